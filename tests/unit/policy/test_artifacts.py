"""What a manifest is: judged by its layers, never by its subject, artifactType or tag."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatekeeper.oci import media_types as mt
from gatekeeper.oci.manifest import parse_manifest
from gatekeeper.policy.artifacts import ManifestClass, classify, is_runnable

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")
SIG_TAG = "sha256-" + "a" * 64 + ".sig"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def manifest(config: str, *layers: str, media_type: str = mt.OCI_MANIFEST, **extra: Any) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config, "digest": D1, "size": 2},
        "layers": [{"mediaType": layer, "digest": D2, "size": 3} for layer in layers],
        **extra,
    }
    return json.dumps(doc).encode()


def index(**extra: Any) -> bytes:
    child = {"mediaType": mt.OCI_MANIFEST, "digest": D3, "size": 4}
    return json.dumps(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [child], **extra}
    ).encode()


SUBJECT = {"subject": {"mediaType": mt.OCI_MANIFEST, "digest": D3, "size": 4}}


@pytest.mark.parametrize(
    ("body", "tag", "expected"),
    [
        # Images, however they are dressed up.
        (manifest(OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar+gzip"), "1.0", "image"),
        (manifest(OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar"), None, "image"),
        (manifest(OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar+zstd"), None, "image"),
        (
            manifest(OCI_CONFIG, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"),
            None,
            "image",
        ),
        (
            manifest(OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"),
            None,
            "image",
        ),
        (
            manifest(
                DOCKER_CONFIG,
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                media_type=mt.DOCKER_MANIFEST,
            ),
            None,
            "image",
        ),
        (
            manifest(
                DOCKER_CONFIG,
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                media_type=mt.DOCKER_MANIFEST,
            ),
            None,
            "image",
        ),
        (
            manifest(OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar", **SUBJECT),
            "latest",
            "image",
        ),
        (manifest(OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar"), SIG_TAG, "image"),
        (
            manifest(EMPTY, "application/vnd.oci.image.layer.v1.tar", artifactType="x/y"),
            None,
            "image",
        ),
        (manifest("application/vnd.acme.config", "application/x-tar"), None, "image"),
        (manifest(OCI_CONFIG, "APPLICATION/VND.OCI.IMAGE.LAYER.V1.TAR; x=1"), None, "image"),
        # A simplesigning layer beside a tar layer is an image with a disguise.
        (
            manifest(OCI_CONFIG, SIMPLESIGNING, "application/vnd.oci.image.layer.v1.tar"),
            SIG_TAG,
            "image",
        ),
        # Under an image config, unknown layer types are unpacked by sniffing engines.
        (manifest(OCI_CONFIG, "application/octet-stream"), None, "image"),
        (manifest(DOCKER_CONFIG, "text/plain", media_type=mt.DOCKER_MANIFEST), None, "image"),
        # Artifacts.
        (manifest(OCI_CONFIG, SIMPLESIGNING), SIG_TAG, "artifact"),
        (manifest(OCI_CONFIG, "application/vnd.dsse.envelope.v1+json"), None, "artifact"),
        (
            manifest(EMPTY, "application/vnd.dev.sigstore.bundle.v0.3+json", **SUBJECT),
            None,
            "artifact",
        ),
        (
            manifest("application/vnd.cncf.helm.config.v1+json", "application/octet-stream"),
            "1.0",
            "artifact",
        ),
        (manifest(OCI_CONFIG), None, "artifact"),
        # Indexes: image indexes, unless they claim to be artifacts.
        (index(), "1.0", "index"),
        (index(), None, "index"),
        (index(**SUBJECT), "1.0", "artifact-index"),
        (index(artifactType="application/vnd.example"), None, "artifact-index"),
        (index(), "sha256-" + "b" * 64, "artifact-index"),
    ],
)
def test_classification(body: bytes, tag: str | None, expected: str) -> None:
    assert classify(parse_manifest(body), tag) is ManifestClass(expected)


def test_runnable_ignores_subject_and_artifact_type() -> None:
    plain = parse_manifest(manifest(OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar"))
    dressed = parse_manifest(
        manifest(
            OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar", artifactType="a/b", **SUBJECT
        )
    )
    assert is_runnable(plain) and is_runnable(dressed)

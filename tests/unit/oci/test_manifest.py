from __future__ import annotations

import json
from typing import Any

import pytest

from gatekeeper.errors import ManifestInvalid, SizeInvalid
from gatekeeper.oci import media_types as mt
from gatekeeper.oci.manifest import MAX_DESCRIPTORS, parse_manifest
from gatekeeper.policy.artifacts import artifact_subject, artifact_tag_subject

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def desc(digest: str, media_type: str = "application/octet-stream", **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": 10, **extra}


def image(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": desc(D1),
        "layers": [desc(D2), desc(D3)],
        **extra,
    }


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_image_manifest_facts() -> None:
    manifest = parse_manifest(encode(image()))
    assert manifest.media_type == mt.OCI_MANIFEST
    assert not manifest.is_index
    assert manifest.blob_digests == {D1, D2, D3}
    assert manifest.child_digests == frozenset()


def test_index_children() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [desc(D1, mt.OCI_MANIFEST, platform={"os": "linux"}), desc(D2)],
    }
    manifest = parse_manifest(encode(doc))
    assert manifest.is_index
    assert manifest.child_digests == {D1, D2}
    assert manifest.blob_digests == frozenset()


@pytest.mark.parametrize(
    ("doc", "content_type", "expected"),
    [
        ({**image(), "mediaType": None}, None, mt.OCI_MANIFEST),
        ({"schemaVersion": 2, "manifests": []}, None, mt.OCI_INDEX),
        ({**image(), "mediaType": None}, mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST),
    ],
)
def test_media_type_inferred_when_absent(
    doc: dict[str, Any], content_type: str | None, expected: str
) -> None:
    doc = {k: v for k, v in doc.items() if v is not None}
    assert parse_manifest(encode(doc), content_type).media_type == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (encode({"schemaVersion": 1, "fsLayers": []}), "schema 1"),
        (encode({**image(), "schemaVersion": 3}), "schemaVersion must be 2"),
        (encode({**image(), "mediaType": "text/plain"}), "unsupported manifest media type"),
        (encode({**image(), "layers": "x"}), "layers must be a list"),
        (encode({**image(), "layers": [desc("sha256:short")]}), "layers[0]"),
        (encode({**image(), "layers": [{**desc(D2), "size": -1}]}), "non-negative"),
        (encode({**image(), "layers": [{**desc(D2), "size": True}]}), "non-negative"),
        (encode({k: v for k, v in image().items() if k != "config"}), "no config"),
        (encode({**image(), "annotations": {"a": 1}}), "must map strings"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_invalid_manifests(data: bytes, message: str) -> None:
    with pytest.raises(ManifestInvalid, match=None) as caught:
        parse_manifest(data)
    assert message in caught.value.message


def test_limits() -> None:
    with pytest.raises(SizeInvalid):
        parse_manifest(b" " * (4 * 1024 * 1024 + 1))
    many = image(layers=[desc(D2)] * (MAX_DESCRIPTORS + 1))
    with pytest.raises(ManifestInvalid, match="more than"):
        parse_manifest(encode(many))


@pytest.mark.parametrize(
    ("tag", "subject"),
    [
        (f"sha256-{'a' * 64}.sig", "sha256:" + "a" * 64),
        (f"sha256-{'a' * 64}.att", "sha256:" + "a" * 64),
        (f"sha256-{'a' * 64}", "sha256:" + "a" * 64),
        (f"sha256-{'a' * 63}.sig", None),
        ("v1.0.0", None),
        (None, None),
    ],
)
def test_artifact_tags(tag: str | None, subject: str | None) -> None:
    assert artifact_tag_subject(tag) == subject


def test_subject_field_wins() -> None:
    manifest = parse_manifest(encode(image(subject=desc(D3, mt.OCI_MANIFEST))))
    assert artifact_subject(manifest, "v1") == D3
    assert artifact_subject(parse_manifest(encode(image())), "v1") is None

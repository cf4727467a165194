"""What a manifest is, for admission: a runnable image, an index, or a supply-chain artifact.

An exemption for artifacts (signatures, attestations, SBOMs, referrer indexes) must never
serve something a container engine can run, so the question is asked of the manifest's
content, not of what it claims: a ``subject`` field, an ``artifactType`` or an artifact tag
(``sha256-<hex>.sig``) say nothing about whether an engine would unpack its layers. The
config media type cannot tell either (legacy cosign ``.sig`` manifests use the OCI image
config type). So:

- a manifest with any image-filesystem layer (tar, tar+gzip, tar+zstd, their
  non-distributable and encrypted forms, Docker rootfs diffs) is an IMAGE;
- under an image config, any layer whose type is not a known artifact type is treated as
  a filesystem layer too: engines such as containers/storage sniff a layer's compression
  instead of trusting its media type (fail closed);
- everything else is an ARTIFACT, which opens only its own blobs;
- an index is an INDEX (judged by its rule; admitted children inherit its signature) unless
  it has a ``subject`` or ``artifactType`` or sits under an artifact tag: then it is an
  ARTIFACT_INDEX, which opens nothing, and each child stands on its own.
"""

from __future__ import annotations

import enum
import re

from gatekeeper.oci.manifest import Manifest

# cosign's tag scheme (sha256-<hex>.sig/.att/.sbom) and the OCI 1.1 referrers tag fallback
# (sha256-<hex>, an index of referrers).
_ARTIFACT_TAG = re.compile(r"(sha256)-([a-f0-9]{64})(?:\.(?:sig|att|sbom))?")

IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
# Layer media types of image filesystems (image-spec layer.md, Docker image manifest v2.2).
_FILESYSTEM_LAYER = re.compile(
    r"application/vnd\.oci\.image\.layer\..*"
    r"|application/vnd\.docker\.image\.rootfs\..*"
    r"|.*[./+-]tar([+.].*)?"
)
# Layer types real supply-chain tools write (cosign, sigstore, in-toto, Notation, SBOM
# formats). Only these may sit under an image config without making the manifest runnable.
_ARTIFACT_LAYERS = frozenset(
    {
        "application/vnd.dev.cosign.simplesigning.v1+json",
        "application/vnd.dsse.envelope.v1+json",
        "application/vnd.in-toto+json",
        "application/vnd.dev.sigstore.bundle+json",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/jose+json",
        "application/cose",
        "text/spdx",
        "text/spdx+json",
        "text/spdx+xml",
        "application/spdx+json",
        "application/vnd.cyclonedx",
        "application/vnd.cyclonedx+json",
        "application/vnd.cyclonedx+xml",
        "application/vnd.syft+json",
        "application/vnd.oci.empty.v1+json",
    }
)


class ManifestClass(enum.Enum):
    IMAGE = "image"
    ARTIFACT = "artifact"
    INDEX = "index"
    ARTIFACT_INDEX = "artifact-index"

    @property
    def is_artifact(self) -> bool:
        return self in (ManifestClass.ARTIFACT, ManifestClass.ARTIFACT_INDEX)


def artifact_tag_subject(tag: str | None) -> str | None:
    """The image digest an artifact tag points at, or None for an ordinary tag."""
    if tag is None:
        return None
    match = _ARTIFACT_TAG.fullmatch(tag)
    return f"{match[1]}:{match[2]}" if match else None


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def is_runnable(manifest: Manifest) -> bool:
    """True when a container engine could unpack this (non-index) manifest as an image."""
    layers = [_media_type(layer.media_type) for layer in manifest.layers]
    if any(_FILESYSTEM_LAYER.fullmatch(layer) for layer in layers):
        return True
    config = _media_type(manifest.config.media_type) if manifest.config else ""
    return config in IMAGE_CONFIGS and any(layer not in _ARTIFACT_LAYERS for layer in layers)


def classify(manifest: Manifest, tag: str | None) -> ManifestClass:
    """What ``manifest``, pulled or pushed under ``tag`` (None: by digest), is."""
    if manifest.is_index:
        claims_artifact = (
            manifest.subject is not None
            or manifest.artifact_type is not None
            or artifact_tag_subject(tag) is not None
        )
        return ManifestClass.ARTIFACT_INDEX if claims_artifact else ManifestClass.INDEX
    return ManifestClass.IMAGE if is_runnable(manifest) else ManifestClass.ARTIFACT


def artifact_subject(manifest: Manifest, tag: str | None) -> str | None:
    """The image this manifest says it is attached to (``subject`` or artifact tag), if any."""
    if manifest.subject is not None:
        return manifest.subject.digest
    return artifact_tag_subject(tag)

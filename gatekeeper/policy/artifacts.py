"""Recognise supply-chain artifacts (signatures, attestations, SBOMs) attached to an image."""

from __future__ import annotations

import re

from gatekeeper.oci.manifest import Manifest

# cosign's tag scheme (sha256-<hex>.sig/.att/.sbom) and the OCI 1.1 referrers tag fallback
# (sha256-<hex>, an index of referrers).
_ARTIFACT_TAG = re.compile(r"(sha256)-([a-f0-9]{64})(?:\.(?:sig|att|sbom))?")


def artifact_tag_subject(tag: str | None) -> str | None:
    """The image digest an artifact tag points at, or None for an ordinary tag."""
    if tag is None:
        return None
    match = _ARTIFACT_TAG.fullmatch(tag)
    return f"{match[1]}:{match[2]}" if match else None


def artifact_subject(manifest: Manifest, tag: str | None) -> str | None:
    """The image this manifest is an artifact for, if it is one (``subject`` or tag)."""
    if manifest.subject is not None:
        return manifest.subject.digest
    return artifact_tag_subject(tag)

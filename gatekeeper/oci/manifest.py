"""Parse manifest bytes into the facts admission needs (pure, bounded).

Covers OCI image manifests and indexes and Docker v2 manifests and manifest lists. Docker
schema 1 is obsolete and refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.errors import DigestInvalid, ManifestInvalid, SizeInvalid
from gatekeeper.oci import media_types as mt
from gatekeeper.oci.grammar import check_digest

# distribution's own limit for manifests it accepts (registry/handlers/manifests.go).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# An index or manifest listing more entries than this is treated as hostile.
MAX_DESCRIPTORS = 10_000


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a manifest says, independent of its JSON spelling."""

    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str]

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    @property
    def blob_digests(self) -> frozenset[str]:
        """Digests of the blobs this manifest references (config and layers)."""
        digests = {layer.digest for layer in self.layers}
        if self.config is not None:
            digests.add(self.config.digest)
        return frozenset(digests)

    @property
    def child_digests(self) -> frozenset[str]:
        return frozenset(child.digest for child in self.manifests)


def parse_manifest(
    data: bytes, content_type: str | None = None, max_refs: int | None = None
) -> Manifest:
    """Parse ``data``; raise MANIFEST_INVALID (or SIZE_INVALID) with a precise reason.

    ``max_refs``: the most layers or index children accepted, checked before any
    descriptor is built (a 10,000-layer manifest costs memory per layer, and admission
    records per layer).
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise SizeInvalid(f"manifest of {len(data)} bytes exceeds {MAX_MANIFEST_BYTES}")
    doc = json_object(data, "manifest")
    if max_refs is not None:
        for key in ("layers", "manifests"):
            listed = doc.get(key)
            if isinstance(listed, list) and len(listed) > max_refs:
                raise SizeInvalid(
                    f"manifest lists {len(listed)} {key}; gatekeeper accepts at most {max_refs}"
                )
    if doc.get("schemaVersion") == 1 or content_type in mt.OBSOLETE_MANIFESTS:
        raise ManifestInvalid("Docker schema 1 manifests are obsolete and not accepted")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("manifest schemaVersion must be 2")
    media_type = _media_type(doc, content_type)
    manifests = _descriptors(doc, "manifests") if media_type in mt.INDEXES else ()
    layers = _descriptors(doc, "layers") if media_type not in mt.INDEXES else ()
    config = _descriptor(doc["config"], "config") if "config" in doc else None
    if media_type in mt.IMAGE_MANIFESTS and config is None:
        raise ManifestInvalid("image manifest has no config descriptor")
    subject = _descriptor(doc["subject"], "subject") if "subject" in doc else None
    return Manifest(
        media_type=media_type,
        config=config,
        layers=layers,
        manifests=manifests,
        subject=subject,
        artifact_type=_optional_str(doc, "artifactType"),
        annotations=_annotations(doc.get("annotations"), "annotations"),
    )


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """``data`` as a JSON object, or MANIFEST_INVALID naming ``what`` and the problem."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ManifestInvalid(f"{what} is not valid JSON: {str(exc)[:120]}") from exc
    if not isinstance(doc, dict):
        raise ManifestInvalid(f"{what} is not a JSON object")
    return doc


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("manifest mediaType must be a string")
    if declared is None:
        # OCI makes mediaType optional; infer it from the shape, then from Content-Type.
        if content_type in mt.SUPPORTED_MANIFESTS:
            declared = content_type
        elif "manifests" in doc:
            declared = mt.OCI_INDEX
        elif "config" in doc:
            declared = mt.OCI_MANIFEST
        else:
            raise ManifestInvalid("cannot tell the manifest's media type")
    if declared not in mt.SUPPORTED_MANIFESTS:
        raise ManifestInvalid(f"unsupported manifest media type {declared[:100]!r}")
    return declared


def _descriptors(doc: dict[str, Any], key: str) -> tuple[Descriptor, ...]:
    raw = doc.get(key, [])
    if not isinstance(raw, list):
        raise ManifestInvalid(f"manifest {key} must be a list")
    if len(raw) > MAX_DESCRIPTORS:
        raise ManifestInvalid(f"manifest lists {len(raw)} {key}, more than {MAX_DESCRIPTORS}")
    return tuple(_descriptor(item, f"{key}[{i}]") for i, item in enumerate(raw))


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise ManifestInvalid(f"{where} is not a descriptor object")
    media_type = raw.get("mediaType")
    digest = raw.get("digest")
    size = raw.get("size")
    if not isinstance(media_type, str) or not isinstance(digest, str):
        raise ManifestInvalid(f"{where} needs string mediaType and digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where} size must be a non-negative integer")
    try:
        check_digest(digest)
    except DigestInvalid as exc:
        raise ManifestInvalid(f"{where}: {exc.message}") from exc
    platform = raw.get("platform")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=_optional_str(raw, "artifactType"),
        platform=platform if isinstance(platform, dict) else None,
        annotations=_annotations(raw.get("annotations"), f"{where}.annotations"),
    )


def _annotations(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ManifestInvalid(f"{where} must map strings to strings")
    return dict(raw)


def _optional_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise ManifestInvalid(f"manifest {key} must be a string")
    return value

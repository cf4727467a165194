"""Fetch the supply-chain artifacts cosign attaches to an image (registry I/O, bounded).

Two places, both read for signatures (``.sig``, cosign's sign predicate) and for
attestations (``.att``, a predicate type such as cosign's vuln one):

- the tag artifact ``sha256-<hex><suffix>``: an OCI manifest with one layer per signature or
  attestation; each wanted layer and its blob becomes a :class:`LegacySignature`;
- Sigstore bundles attached as referrers, found through ``GET /v2/<name>/referrers/<digest>``
  or, where the upstream lacks that API (CNCF distribution 2.8), the referrers tag
  ``sha256-<hex>`` holding an index; each becomes a :class:`BundleSignature`.

A layer or referrer whose annotation names another predicate type (cosign's ``predicateType``
on ``.att`` layers, ``dev.sigstore.bundle.predicateType`` on bundle manifests) is skipped
unread: annotations are unsigned, so they only ever save work, and the verifier still checks
the signed statement of everything fetched. A blob whose descriptor claims more than the
limit is not downloaded; its candidate carries empty bytes, which the verifier refuses by
size. Fetch failures become problems, never exceptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass

from gatekeeper.admission.evidence import Subject
from gatekeeper.errors import GatekeeperError
from gatekeeper.oci.digest import tag_fallback
from gatekeeper.oci.manifest import Descriptor, parse_manifest
from gatekeeper.trust.verify import BundleSignature, Candidate, LegacySignature
from gatekeeper.upstream.client import Upstream
from gatekeeper.upstream.reads import fetch_blob, fetch_optional_manifest, fetch_referrers

BUNDLE_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
    }
)
LAYER_PREDICATE_ANNOTATION = "predicateType"  # cosign attest, on each .att layer
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"  # cosign v3, on referrers
INDEX_LIMIT = 1024 * 1024  # a referrers index or tag artifact manifest larger than this is hostile


@dataclass(frozen=True, slots=True)
class ArtifactKind:
    """What to look for: the tag suffix and layer type, the predicate, blob size bounds."""

    tag_suffix: str  # ".sig" or ".att"
    layer_media_type: str
    predicate_type: str
    max_layer_bytes: int
    max_bundle_bytes: int
    also_predicate_types: tuple[str, ...] = ()  # equivalent names (OpenVEX has two)

    @property
    def predicate_types(self) -> frozenset[str]:
        return frozenset((self.predicate_type, *self.also_predicate_types))


@dataclass(frozen=True, slots=True)
class Discovery:
    """Candidates found for one image, where gatekeeper looked, and what could not be read."""

    candidates: tuple[Candidate, ...]
    looked_at: tuple[str, ...]
    problems: tuple[str, ...]


class RegistryArtifacts:
    """Reads tag artifacts and bundle referrers of images in one upstream."""

    def __init__(self, upstream: Upstream, max_candidates: int) -> None:
        self._upstream = upstream
        self._max_candidates = max_candidates

    async def discover(
        self, subject: Subject, kind: ArtifactKind, repository: str | None = None
    ) -> Discovery:
        """Fetch every candidate for ``subject``: tag artifact layers, then bundles.

        ``repository`` names where they are stored when not beside the image (cosign's
        ``COSIGN_REPOSITORY``: ``signatures.repository``), in the image's upstream, read with
        gatekeeper's own credentials.
        """
        tag = tag_fallback(subject.digest) + kind.tag_suffix
        upstream, beside = subject.source(self._upstream)
        repository = repository or beside
        results = await asyncio.gather(
            self._tag_layers(upstream, repository, tag, kind),
            self._bundles(upstream, repository, subject.digest, kind),
            return_exceptions=True,
        )
        candidates: list[Candidate] = []
        problems: list[str] = []
        for result in results:
            if isinstance(result, GatekeeperError):
                problems.append(result.message)
            elif isinstance(result, BaseException):
                raise result
            else:
                candidates.extend(result)
        where = "" if repository == beside else f" in {repository}"
        looked_at = (f"tag {tag}{where}", f"referrers{where}")
        return Discovery(tuple(candidates), looked_at, tuple(problems))

    async def _tag_layers(
        self, upstream: Upstream, repository: str, tag: str, kind: ArtifactKind
    ) -> list[Candidate]:
        fetched = await fetch_optional_manifest(upstream, repository, tag, INDEX_LIMIT)
        if fetched is None:
            return []
        manifest = parse_manifest(fetched.data, fetched.content_type)
        layers = [
            layer
            for layer in manifest.layers
            if layer.media_type == kind.layer_media_type
            and _wanted(layer, LAYER_PREDICATE_ANNOTATION, kind.predicate_types)
        ]
        layers = layers[: self._max_candidates + 1]  # one more: "too many" is reported
        blobs = await asyncio.gather(
            *(self._blob(upstream, repository, layer, kind.max_layer_bytes) for layer in layers)
        )
        return [
            LegacySignature(f"tag {tag}", layer, blob)
            for layer, blob in zip(layers, blobs, strict=True)
        ]

    async def _bundles(
        self, upstream: Upstream, repository: str, digest: str, kind: ArtifactKind
    ) -> list[Candidate]:
        index = await fetch_referrers(upstream, repository, digest, INDEX_LIMIT)
        if index is None:
            index = await fetch_optional_manifest(
                upstream, repository, tag_fallback(digest), INDEX_LIMIT
            )
        if index is None:
            return []
        referrers = parse_manifest(index.data, index.content_type).manifests
        wanted = [
            d
            for d in referrers
            if d.artifact_type in BUNDLE_TYPES
            and _wanted(d, BUNDLE_PREDICATE_ANNOTATION, kind.predicate_types)
        ]
        wanted = wanted[: self._max_candidates + 1]
        found = await asyncio.gather(
            *(self._bundle(upstream, repository, d, kind.max_bundle_bytes) for d in wanted)
        )
        return [candidate for candidate in found if candidate is not None]

    async def _bundle(
        self, upstream: Upstream, repository: str, referrer: Descriptor, max_bytes: int
    ) -> Candidate | None:
        fetched = await fetch_optional_manifest(upstream, repository, referrer.digest, INDEX_LIMIT)
        if fetched is None:
            return None
        manifest = parse_manifest(fetched.data, fetched.content_type)
        layer = next((d for d in manifest.layers if d.media_type in BUNDLE_TYPES), None)
        if layer is None:
            return None
        return BundleSignature(
            f"referrer {referrer.digest}",
            await self._blob(upstream, repository, layer, max_bytes),
        )

    @staticmethod
    def _blob(
        upstream: Upstream, repository: str, layer: Descriptor, max_bytes: int
    ) -> Awaitable[bytes]:
        if layer.size > max_bytes:
            return _empty()  # refused by the verifier from the descriptor size, never fetched
        return fetch_blob(upstream, repository, layer.digest, max_bytes)


async def _empty() -> bytes:
    return b""


def _wanted(descriptor: Descriptor, annotation: str, predicate_types: frozenset[str]) -> bool:
    named = descriptor.annotations.get(annotation)
    return named is None or named in predicate_types

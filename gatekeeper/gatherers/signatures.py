"""Find an image's signatures in the registry and verify them (cached, single-flight).

Where signatures live (DESIGN.md, "cosign legacy signatures" and "cosign v3"):

- cosign legacy: tag ``sha256-<hex>.sig``, one simple-signing layer per signature;
- Sigstore bundles: referrers with artifactType ``application/vnd.dev.sigstore.bundle.v0.3+json``,
  found through ``GET /v2/<name>/referrers/<digest>`` or, where the upstream lacks that API
  (CNCF distribution 2.8), the referrers tag ``sha256-<hex>`` holding an index.

Results are cached per (image digest, signature policy, trust material fingerprint): verified
evidence for ``positive_ttl`` seconds, refusals for ``negative_ttl`` (briefly: a signature
may be pushed right after a refused pull). Concurrent cold pulls of one digest share one
verification.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

from gatekeeper.errors import GatekeeperError
from gatekeeper.oci.digest import tag_fallback
from gatekeeper.oci.manifest import Descriptor, parse_manifest
from gatekeeper.policy.evidence import SignatureEvidence
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.server.evidence import Subject
from gatekeeper.state.singleflight import SingleFlight
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial, load_trust_material
from gatekeeper.trust.verify import (
    BundleSignature,
    Candidate,
    LegacySignature,
    evaluate_signatures,
)
from gatekeeper.upstream.client import Upstream
from gatekeeper.upstream.reads import (
    fetch_blob,
    fetch_optional_manifest,
    fetch_referrers,
)

log = logging.getLogger("gatekeeper.signatures")

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
    }
)
_INDEX_LIMIT = 1024 * 1024  # a referrers index or .sig manifest larger than this is hostile


@dataclass(frozen=True, slots=True)
class SignatureCacheConfig:
    positive_ttl: float = 300.0
    negative_ttl: float = 10.0
    max_entries: int = 10_000


class RegistrySignatures:
    """The SignatureGatherer: ``await gatherer(subject, policy) -> SignatureEvidence``."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        limits: TrustLimits = DEFAULT_LIMITS,
        cache: SignatureCacheConfig = SignatureCacheConfig(),
        load_material: Callable[[SignaturePolicy], TrustMaterial] = load_trust_material,
    ) -> None:
        self._upstream = upstream
        self._limits = limits
        self._config = cache
        self._load_material = load_material
        self._positive: TTLCache[tuple[str, str, SignaturePolicy], SignatureEvidence] = TTLCache(
            cache.max_entries, cache.positive_ttl
        )
        self._negative: TTLCache[tuple[str, str, SignaturePolicy], SignatureEvidence] = TTLCache(
            cache.max_entries, cache.negative_ttl
        )
        self._materials: TTLCache[SignaturePolicy, TrustMaterial] = TTLCache(256, 60.0)
        self._flights: SingleFlight[tuple[str, str, SignaturePolicy], SignatureEvidence] = (
            SingleFlight()
        )
        self.verifications = 0  # how many times artifacts were fetched and verified

    async def __call__(self, subject: Subject, policy: SignaturePolicy) -> SignatureEvidence:
        material = await self._material(policy)
        key = (subject.digest, material.fingerprint, policy)
        cached = self._positive.get(key) or self._negative.get(key)
        if cached is not None:
            return cached
        return await self._flights.run(key, lambda: self._verify(subject, policy, material, key))

    async def _material(self, policy: SignaturePolicy) -> TrustMaterial:
        material = self._materials.get(policy)
        if material is None:
            material = await asyncio.to_thread(self._load_material, policy)
            self._materials[policy] = material
        return material

    async def _verify(
        self,
        subject: Subject,
        policy: SignaturePolicy,
        material: TrustMaterial,
        key: tuple[str, str, SignaturePolicy],
    ) -> SignatureEvidence:
        self.verifications += 1
        candidates, looked_at, problems = await self._discover(subject)
        evidence = await asyncio.to_thread(
            evaluate_signatures,
            candidates,
            subject.digest,
            policy,
            material,
            looked_at=looked_at,
            limits=self._limits,
        )
        if problems:
            evidence = SignatureEvidence(
                evidence.signers, evidence.looked_at, (*problems, *evidence.problems)
            )
        cache = self._positive if len(evidence.signers) >= policy.threshold else self._negative
        cache[key] = evidence
        return evidence

    async def _discover(self, subject: Subject) -> tuple[list[Candidate], list[str], list[str]]:
        """Fetch every candidate signature; fetch failures become problems, not errors."""
        legacy_tag = tag_fallback(subject.digest) + ".sig"
        looked_at = [f"tag {legacy_tag}", "referrers"]
        problems: list[str] = []
        candidates: list[Candidate] = []
        results = await asyncio.gather(
            self._legacy(subject.repository, legacy_tag),
            self._bundles(subject.repository, subject.digest),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, GatekeeperError):
                problems.append(result.message)
            elif isinstance(result, BaseException):
                raise result
            else:
                candidates.extend(result)
        return candidates, looked_at, problems

    async def _legacy(self, repository: str, tag: str) -> list[Candidate]:
        fetched = await fetch_optional_manifest(self._upstream, repository, tag, _INDEX_LIMIT)
        if fetched is None:
            return []
        manifest = parse_manifest(fetched.data, fetched.content_type)
        layers = [layer for layer in manifest.layers if layer.media_type == SIMPLE_SIGNING]
        layers = layers[: self._limits.max_candidates + 1]  # one more: "too many" is reported
        payloads = await asyncio.gather(*(self._payload(repository, layer) for layer in layers))
        return [
            LegacySignature(f"tag {tag}", layer, payload)
            for layer, payload in zip(layers, payloads, strict=True)
        ]

    async def _payload(self, repository: str, layer: Descriptor) -> bytes:
        if layer.size > self._limits.max_payload_bytes:
            return b""  # refused by the verifier from the descriptor size, never downloaded
        return await fetch_blob(
            self._upstream, repository, layer.digest, self._limits.max_payload_bytes
        )

    async def _bundles(self, repository: str, digest: str) -> list[Candidate]:
        index = await fetch_referrers(self._upstream, repository, digest, _INDEX_LIMIT)
        if index is None:
            index = await fetch_optional_manifest(
                self._upstream, repository, tag_fallback(digest), _INDEX_LIMIT
            )
        if index is None:
            return []
        referrers = parse_manifest(index.data, index.content_type).manifests
        wanted = [d for d in referrers if d.artifact_type in BUNDLE_TYPES]
        wanted = wanted[: self._limits.max_candidates + 1]
        found = await asyncio.gather(*(self._bundle(repository, d) for d in wanted))
        return [candidate for candidate in found if candidate is not None]

    async def _bundle(self, repository: str, referrer: Descriptor) -> Candidate | None:
        fetched = await fetch_optional_manifest(
            self._upstream, repository, referrer.digest, _INDEX_LIMIT
        )
        if fetched is None:
            return None
        manifest = parse_manifest(fetched.data, fetched.content_type)
        layer = next((d for d in manifest.layers if d.media_type in BUNDLE_TYPES), None)
        if layer is None:
            return None
        if layer.size > self._limits.max_bundle_bytes:
            return BundleSignature(f"referrer {referrer.digest}", b"")
        data = await fetch_blob(
            self._upstream, repository, layer.digest, self._limits.max_bundle_bytes
        )
        return BundleSignature(f"referrer {referrer.digest}", data)

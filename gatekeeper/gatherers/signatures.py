"""Find an image's signatures in the registry and verify them (cached, single-flight).

Where signatures live (DESIGN.md, "cosign legacy signatures" and "cosign v3"; fetched by
:mod:`gatekeeper.gatherers.artifacts`):

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

from gatekeeper import metrics
from gatekeeper.admission.evidence import Subject
from gatekeeper.gatherers.artifacts import ArtifactKind, RegistryArtifacts
from gatekeeper.gatherers.materials import compiled_material
from gatekeeper.gatherers.verdict_memo import SignatureCacheConfig, VerdictMemo
from gatekeeper.policy.evidence import SignatureEvidence
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.bundles import COSIGN_SIGN_PREDICATE
from gatekeeper.trust.cosign_legacy import SIMPLE_SIGNING_MEDIA_TYPE
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial
from gatekeeper.trust.verify import evaluate_signatures
from gatekeeper.upstream.client import Upstream

log = logging.getLogger("gatekeeper.signatures")

CacheKey = tuple[str, str, SignaturePolicy]
_COUNTS = metrics.cache("signatures")


_CACHE = SignatureCacheConfig()


class RegistrySignatures:
    """The SignatureGatherer: ``await gatherer(subject, policy) -> SignatureEvidence``."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        limits: TrustLimits = DEFAULT_LIMITS,
        cache: SignatureCacheConfig = _CACHE,
    ) -> None:
        self._artifacts = RegistryArtifacts(upstream, limits.max_candidates)
        self._kind = ArtifactKind(
            tag_suffix=".sig",
            layer_media_type=SIMPLE_SIGNING_MEDIA_TYPE,
            predicate_type=COSIGN_SIGN_PREDICATE,
            max_layer_bytes=limits.max_payload_bytes,
            max_bundle_bytes=limits.max_bundle_bytes,
        )
        self._limits = limits
        self._memo: VerdictMemo[CacheKey, SignatureEvidence] = VerdictMemo(cache)
        self.verifications = 0  # how many times artifacts were fetched and verified

    async def __call__(self, subject: Subject, policy: SignaturePolicy) -> SignatureEvidence:
        material = compiled_material(policy)  # parsed with the policy, never re-read here
        key = (subject.digest, material.fingerprint, policy)
        cached = self._memo.get(key)
        _COUNTS.count(cached is not None)
        if cached is not None:
            return cached
        return await self._memo.run(key, lambda: self._verify(subject, policy, material, key))

    async def _verify(
        self,
        subject: Subject,
        policy: SignaturePolicy,
        material: TrustMaterial,
        key: CacheKey,
    ) -> SignatureEvidence:
        self.verifications += 1
        found = await self._artifacts.discover(subject, self._kind, policy.repository)
        with metrics.timed(metrics.VERIFICATION_SECONDS, "signatures"):
            evidence = await asyncio.to_thread(
                evaluate_signatures,
                found.candidates,
                subject.digest,
                policy,
                material,
                looked_at=found.looked_at,
                limits=self._limits,
            )
        if found.problems:
            evidence = SignatureEvidence(
                evidence.signers, evidence.looked_at, (*found.problems, *evidence.problems)
            )
        self._memo.keep(key, evidence, passed=len(evidence.signers) >= policy.threshold)
        return evidence

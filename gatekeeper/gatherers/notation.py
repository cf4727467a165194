"""Find an image's Notation signatures in the registry and verify them (cached, single-flight).

Where they live (``signature-specification.md``, "OCI Signatures"): referrers of the image
with artifactType ``application/vnd.cncf.notary.signature`` (or, for OCI 1.0 era signatures,
config media type of that name), found through ``GET /v2/<name>/referrers/<digest>`` or,
where the upstream lacks that API (CNCF distribution 2.8), the referrers tag ``sha256-<hex>``
holding an index. Each signature manifest must name the image as its ``subject`` and hold
exactly one layer, the envelope (``application/jose+json`` or ``application/cose``).

Bounds: at most ``max_candidates`` signature manifests are read; an envelope whose
descriptor claims more than ``max_envelope_bytes`` is refused unread; a chain longer than
``max_chain_certificates`` is refused unparsed. Fetch and verification failures become
problems (strict, permissive) or warnings (audit), never exceptions.

:class:`CombinedSignatures` runs this beside the cosign gatherer for a rule that lists both,
so their signers count together towards ``threshold``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from gatekeeper.admission.evidence import SignatureGatherer, Subject
from gatekeeper.errors import GatekeeperError
from gatekeeper.gatherers.artifacts import INDEX_LIMIT
from gatekeeper.gatherers.verdict_memo import SignatureCacheConfig, VerdictMemo
from gatekeeper.oci.digest import tag_fallback
from gatekeeper.oci.manifest import Descriptor, parse_manifest
from gatekeeper.policy.evidence import SignatureEvidence
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.policy.notation import NotationLevel, NotationPolicy, NotationTrustPolicy
from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.notation.envelope import ENVELOPE_TYPES, parse_envelope
from gatekeeper.trust.notation.verify import NotationVerdict, Target, verify_envelope
from gatekeeper.trust.verify import attempt, bounded, problem_line, too_many
from gatekeeper.upstream.client import Upstream
from gatekeeper.upstream.reads import fetch_blob, fetch_optional_manifest, fetch_referrers

log = logging.getLogger("gatekeeper.notation")

NOTATION_SIGNATURE = "application/vnd.cncf.notary.signature"
MAX_ENVELOPE_BYTES = 256 * 1024  # real envelopes: 2-10 KiB (a timestamp adds ~6 KiB)

CacheKey = tuple[str, NotationPolicy]
_CACHE = SignatureCacheConfig()


@dataclass(frozen=True, slots=True)
class NotationCandidate:
    """One signature manifest's envelope as fetched, or why it was refused unread."""

    source: str  # "notation referrer sha256:…"
    media_type: str
    envelope: bytes
    refusal: str | None = None


class NotationSignatures:
    """Reads and verifies Notation signatures of images in one upstream."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        limits: TrustLimits = DEFAULT_LIMITS,
        max_envelope_bytes: int = MAX_ENVELOPE_BYTES,
        cache: SignatureCacheConfig = _CACHE,
    ) -> None:
        self._upstream = upstream
        self._limits = limits
        self._max_envelope = max_envelope_bytes
        self._memo: VerdictMemo[CacheKey, SignatureEvidence] = VerdictMemo(cache)
        self.verifications = 0

    async def __call__(self, subject: Subject, policy: NotationPolicy) -> SignatureEvidence:
        if policy.trust_policy is not None:
            chosen = _statement_policy(policy.trust_policy, subject.repository)
            if isinstance(chosen, SignatureEvidence):
                return chosen
            policy = chosen
        key = (subject.digest, policy)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        return await self._memo.run(key, lambda: self._verify(subject, policy, key))

    async def _verify(
        self, subject: Subject, policy: NotationPolicy, key: CacheKey
    ) -> SignatureEvidence:
        self.verifications += 1
        if policy.material is None:
            raise TrustError("the notation policy carries no trust material (not compiled)")
        upstream, repository = subject.source(self._upstream)
        problems: list[str] = []
        try:
            candidates = await self._discover(upstream, repository, subject.digest)
        except GatekeeperError as exc:
            candidates, problems = [], [exc.message]
        target = Target(subject.digest, len(subject.raw), subject.manifest.media_type)
        evidence = await asyncio.to_thread(
            evaluate_notation, candidates, target, policy, datetime.now(UTC), self._limits
        )
        evidence = SignatureEvidence(
            evidence.signers,
            evidence.looked_at,
            (*problems, *evidence.problems),
            evidence.warnings,
        )
        if policy.level is NotationLevel.AUDIT:
            evidence = _as_audit(evidence)
        self._memo.keep(key, evidence, passed=bool(evidence.signers))
        return evidence

    async def _discover(
        self, upstream: Upstream, repository: str, digest: str
    ) -> list[NotationCandidate]:
        index = await fetch_referrers(upstream, repository, digest, INDEX_LIMIT)
        if index is None:
            index = await fetch_optional_manifest(
                upstream, repository, tag_fallback(digest), INDEX_LIMIT
            )
        if index is None:
            return []
        referrers = parse_manifest(index.data, index.content_type).manifests
        wanted = [d for d in referrers if d.artifact_type == NOTATION_SIGNATURE]
        wanted = wanted[: self._limits.max_candidates + 1]  # one more: "too many" is reported
        found = await asyncio.gather(
            *(self._candidate(upstream, repository, digest, d) for d in wanted)
        )
        return [candidate for candidate in found if candidate is not None]

    async def _candidate(
        self, upstream: Upstream, repository: str, digest: str, referrer: Descriptor
    ) -> NotationCandidate | None:
        source = f"notation referrer {referrer.digest}"
        fetched = await fetch_optional_manifest(upstream, repository, referrer.digest, INDEX_LIMIT)
        if fetched is None:
            return None
        manifest = parse_manifest(fetched.data, fetched.content_type)
        if manifest.subject is None or manifest.subject.digest != digest:
            return NotationCandidate(source, "", b"", "signature manifest names another subject")
        envelopes = [d for d in manifest.layers if d.media_type in ENVELOPE_TYPES]
        if len(manifest.layers) != 1 or len(envelopes) != 1:
            refusal = "signature manifest must hold exactly one JWS or COSE envelope layer"
            return NotationCandidate(source, "", b"", refusal)
        layer = envelopes[0]
        if layer.size > self._max_envelope:
            refusal = f"envelope is larger than {self._max_envelope} bytes (not fetched)"
            return NotationCandidate(source, layer.media_type, b"", refusal)
        data = await fetch_blob(upstream, repository, layer.digest, self._max_envelope)
        return NotationCandidate(source, layer.media_type, data)


def evaluate_notation(
    candidates: list[NotationCandidate],
    target: Target,
    policy: NotationPolicy,
    now: datetime,
    limits: TrustLimits = DEFAULT_LIMITS,
) -> SignatureEvidence:
    """Verify up to ``limits.max_candidates`` candidates; signers are matched identities."""
    assert policy.material is not None
    trust = policy.material
    signers: list[str] = []
    problems: list[str] = []
    warnings: list[str] = []
    places = ["notation referrers"]

    def verify(candidate: NotationCandidate) -> NotationVerdict:
        if candidate.refusal is not None:
            raise SignatureRejected(candidate.refusal)
        envelope = parse_envelope(
            candidate.media_type, candidate.envelope, limits.max_chain_certificates
        )
        return verify_envelope(envelope, target, policy, trust, now)

    for examined, candidate in enumerate(candidates):
        if examined == limits.max_candidates:
            problems.append(too_many(limits, "notation signatures"))
            break
        places.append(candidate.source)
        verdict, problem = attempt(partial(verify, candidate))
        if problem is not None or verdict is None:
            problems.append(problem_line(candidate.source, problem or "not verified", limits))
            continue
        for warning in verdict.warnings:
            warnings.append(problem_line(candidate.source, f"notation: {warning}", limits))
            log.warning("%s: notation %s: %s", target.digest, policy.level.value, warning)
        signer = f"notation {verdict.identity.text}"
        if verdict.identity.is_any:
            signer = f"notation * ({verdict.subject})"
        if signer not in signers:
            signers.append(signer)
    return SignatureEvidence(
        tuple(signers),
        tuple(dict.fromkeys(places)),
        bounded(problems, limits.max_problems),
        bounded(warnings, limits.max_problems),
    )


def _statement_policy(
    trust_policy: NotationTrustPolicy, repository: str
) -> NotationPolicy | SignatureEvidence:
    """The imported statement's policy for ``repository``, or the evidence when none runs."""
    scope = trust_policy.scope_of(repository)
    statement = trust_policy.select(repository)
    places = (f"notation trust policy {trust_policy.source.name}",)
    if statement is None:
        problem = f"no Notation trust policy statement applies to {scope} (untrusted)"
        return SignatureEvidence((), places, (problem,), ())
    if statement.policy is None:
        warning = (
            f"notation trust policy statement {statement.name!r} skips verification for {scope}"
        )
        return SignatureEvidence((), places, (), (warning,))
    return statement.policy


def _as_audit(evidence: SignatureEvidence) -> SignatureEvidence:
    """Audit level: nothing counts, nothing refuses; every finding is a warning."""
    warnings = [f"notation audit: {problem}" for problem in evidence.problems]
    warnings += [f"notation audit: verified signature by {s}" for s in evidence.signers]
    if not evidence.signers and not evidence.problems:
        warnings.append("notation audit: no Notation signature found")
    warnings += evidence.warnings
    return SignatureEvidence((), evidence.looked_at, (), tuple(warnings))


class CombinedSignatures:
    """The SignatureGatherer for rules with cosign requirements, Notation, or both."""

    def __init__(self, cosign: SignatureGatherer, notation: NotationSignatures) -> None:
        self._cosign = cosign
        self._notation = notation

    async def __call__(self, subject: Subject, policy: SignaturePolicy) -> SignatureEvidence:
        parts = []
        if policy.uses_cosign:
            parts.append(self._cosign(subject, policy))
        if policy.notation is not None:
            parts.append(self._notation(subject, policy.notation))
        results = await asyncio.gather(*parts)
        if len(results) == 1:
            return results[0]
        return SignatureEvidence(
            tuple(s for r in results for s in r.signers),
            tuple(p for r in results for p in r.looked_at),
            tuple(p for r in results for p in r.problems),
            tuple(w for r in results for w in r.warnings),
        )

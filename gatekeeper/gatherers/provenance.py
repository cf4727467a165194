"""Find the statements a rule's ``attestations`` require, verify them, judge their conditions.

For each requirement: the candidates :class:`RegistryArtifacts` finds where cosign and
Sigstore tools put attestations (``sha256-<hex>.att`` DSSE layers; Sigstore bundles as
referrers or in the referrers tag fallback), narrowed by the requirement's predicate type
(annotations only save work: the signed statement's own ``predicateType`` is checked), are
verified with the requirement's ``signers`` (:func:`gatekeeper.trust.attestations.
evaluate_attestations`: trusted signature, subject naming the image digest), and every
verified statement is measured against the requirement's CEL conditions
(:mod:`gatekeeper.policy.cel`), in a worker thread: verification and CEL are CPU work.

An image signature is never an attestation here: signature layers have another media type
and are not read, and a cosign signature bundle is a statement of cosign's sign predicate,
refused by the predicate check (and :mod:`gatekeeper.trust.bundles` refuses an attestation
as a signature in turn).

Results are cached per (image digest, requirement) like signatures: satisfied for
``positive_ttl`` seconds, unsatisfied for ``negative_ttl``; concurrent cold pulls share one
verification.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from gatekeeper.admission.evidence import Subject
from gatekeeper.gatherers.artifacts import ArtifactKind, Discovery, RegistryArtifacts
from gatekeeper.gatherers.materials import compiled_material
from gatekeeper.gatherers.verdict_memo import SignatureCacheConfig, VerdictMemo
from gatekeeper.policy.attestation_evidence import (
    AttestationsEvidence,
    RequirementEvidence,
    StatementResult,
)
from gatekeeper.policy.attestation_model import AttestationRequirement
from gatekeeper.policy.cel import Condition, activation, evaluate
from gatekeeper.policy.provenance_bases import provenance_images
from gatekeeper.trust.attestations import DSSE_MEDIA_TYPE, VerifiedStatement, evaluate_attestations
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.upstream.client import Upstream

log = logging.getLogger("gatekeeper.provenance")

CacheKey = tuple[str, AttestationRequirement]
# CEL may build values from what it reads (``map``, ``+``): a statement larger than this is
# not evaluated at all (SLSA provenance is a few KiB; vuln reports are not judged by CEL).
MAX_CEL_STATEMENT_BYTES = 1024 * 1024


class RegistryStatements:
    """The AttestationGatherer: ``await gatherer(subject, requirements)``."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        limits: TrustLimits = DEFAULT_LIMITS,
        cache: SignatureCacheConfig | None = None,
    ) -> None:
        cache = cache or SignatureCacheConfig()
        self._artifacts = RegistryArtifacts(upstream, limits.max_candidates)
        self._limits = limits
        self._memo: VerdictMemo[CacheKey, RequirementEvidence] = VerdictMemo(cache)
        self.verifications = 0  # how many times artifacts were fetched and verified

    async def __call__(
        self, subject: Subject, requirements: Sequence[AttestationRequirement]
    ) -> AttestationsEvidence:
        found = await asyncio.gather(*(self._requirement(subject, req) for req in requirements))
        return AttestationsEvidence(tuple(found))

    async def _requirement(
        self, subject: Subject, requirement: AttestationRequirement
    ) -> RequirementEvidence:
        key = (subject.digest, requirement)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        return await self._memo.run(key, lambda: self._verify(subject, requirement, key))

    async def _verify(
        self, subject: Subject, requirement: AttestationRequirement, key: CacheKey
    ) -> RequirementEvidence:
        self.verifications += 1
        kind = ArtifactKind(
            tag_suffix=".att",
            layer_media_type=DSSE_MEDIA_TYPE,
            predicate_type=requirement.predicate_type,
            max_layer_bytes=self._limits.max_attestation_bytes,
            max_bundle_bytes=self._limits.max_attestation_bytes,
        )
        found = await self._artifacts.discover(subject, kind, requirement.signers.repository)
        evidence = await asyncio.to_thread(
            judge_requirement, found, subject.digest, requirement, self._limits
        )
        self._memo.keep(key, evidence, passed=evidence.satisfied_by is not None)
        return evidence


def judge_requirement(
    found: Discovery,
    digest: str,
    requirement: AttestationRequirement,
    limits: TrustLimits = DEFAULT_LIMITS,
) -> RequirementEvidence:
    """Verify ``found`` under the requirement's signers and judge each verified statement."""
    material = compiled_material(requirement.signers)
    verified = evaluate_attestations(
        found.candidates,
        digest,
        requirement.predicate_type,
        requirement.signers,
        material,
        looked_at=found.looked_at,
        limits=limits,
    )
    results = [
        judge_statement(statement, requirement.conditions) for statement in verified.statements
    ]
    results.sort(key=lambda item: item.failed is not None)  # passing first, else found order
    for problem in verified.problems:
        log.debug("%s for %s does not count: %s", requirement.name, digest, problem)
    return RequirementEvidence(
        requirement.name,
        requirement.predicate_type,
        tuple(results),
        verified.looked_at,
        (*found.problems, *verified.problems),
    )


def judge_statement(
    statement: VerifiedStatement, conditions: Sequence[Condition]
) -> StatementResult:
    """The first condition that does not hold for ``statement`` (none: it satisfies all)."""
    # What a verified provenance says the build started from (image.trusted_bases).
    images = provenance_images(statement.statement)
    base = StatementResult(statement.source, statement.signer, images=images)
    if not conditions:
        return base
    if len(statement.payload) > MAX_CEL_STATEMENT_BYTES:
        return replace(
            base,
            failed=conditions[0].source,
            reason=f"not evaluated: the statement is larger than {MAX_CEL_STATEMENT_BYTES} bytes",
        )
    try:
        variables = activation(statement.statement)
    except (TypeError, ValueError, RecursionError) as exc:
        return replace(
            base,
            failed=conditions[0].source,
            reason=f"error: the statement cannot be read ({type(exc).__name__})",
        )
    for condition in conditions:
        outcome = evaluate(condition, variables)
        if not outcome.held:
            return replace(base, failed=condition.source, reason=outcome.reason, seen=outcome.seen)
    return base

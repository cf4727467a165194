"""Gather the evidence a rule needs, concurrently, failing closed.

Gatherers are injected (``create_app`` receives them), so adding a kind of evidence means
adding one callable here, and tests can pass counting fakes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from gatekeeper import metrics
from gatekeeper.errors import GatekeeperError
from gatekeeper.oci.manifest import Manifest
from gatekeeper.policy.attestation_evidence import AttestationsEvidence
from gatekeeper.policy.attestation_model import AttestationRequirement
from gatekeeper.policy.evidence import Evidence, ImageFacts, ScanEvidence, SignatureEvidence
from gatekeeper.policy.model import EvidenceKind, ImagePolicy, Rule, ScanPolicy, SignaturePolicy
from gatekeeper.upstream.client import Upstream

log = logging.getLogger("gatekeeper.evidence")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Subject:
    """The manifest being admitted, exactly as gatekeeper read it, and where it lives.

    ``repository`` is the name policy sees (namespace-qualified in mirror mode);
    ``upstream``/``upstream_name`` say where to read its artifacts (None/"": the gatherer's
    default upstream, same name).
    """

    repository: str
    digest: str
    manifest: Manifest
    raw: bytes
    upstream: Upstream | None = None
    upstream_name: str = ""

    def source(self, default: Upstream) -> tuple[Upstream, str]:
        """The upstream and repository name to read this image's artifacts from."""
        return self.upstream or default, self.upstream_name or self.repository


SignatureGatherer = Callable[[Subject, SignaturePolicy], Awaitable[SignatureEvidence]]
# The rule's signature policy (None without one) rides along: signed vulnerability
# attestations count only when signed by the signers the rule trusts.
ScanGatherer = Callable[[Subject, ScanPolicy, SignaturePolicy | None], Awaitable[ScanEvidence]]
ImageGatherer = Callable[[Subject, ImagePolicy], Awaitable[ImageFacts]]
AttestationGatherer = Callable[
    [Subject, tuple[AttestationRequirement, ...]], Awaitable[AttestationsEvidence]
]


@dataclass(frozen=True, slots=True)
class Gatherers:
    """One optional gatherer per kind; a missing one leaves its evidence None (→ deny)."""

    signatures: SignatureGatherer | None = None
    scan: ScanGatherer | None = None
    image: ImageGatherer | None = None
    attestations: AttestationGatherer | None = None


async def gather(
    rule: Rule,
    subject: Subject,
    gatherers: Gatherers,
    kinds: frozenset[EvidenceKind] | None = None,
) -> Evidence:
    """Run the gatherers ``rule`` needs (only ``kinds`` of them when given).

    A failing gatherer leaves its field None, which the decision reads as a refusal.
    """
    needs = rule.needs if kinds is None else rule.needs & kinds
    jobs: dict[EvidenceKind, Awaitable[Any]] = {}
    if EvidenceKind.SIGNATURES in needs and gatherers.signatures and rule.signatures:
        jobs[EvidenceKind.SIGNATURES] = _timed(
            "signatures", gatherers.signatures(subject, rule.signatures)
        )
    if EvidenceKind.SCAN in needs and gatherers.scan and rule.scan:
        jobs[EvidenceKind.SCAN] = _timed(
            "scan", gatherers.scan(subject, rule.scan, rule.signatures)
        )
    if EvidenceKind.IMAGE in needs and gatherers.image and rule.image:
        jobs[EvidenceKind.IMAGE] = _timed("image", gatherers.image(subject, rule.image))
    if EvidenceKind.ATTESTATIONS in needs and gatherers.attestations and rule.attestations:
        jobs[EvidenceKind.ATTESTATIONS] = _timed(
            "attestations", gatherers.attestations(subject, rule.attestations)
        )
    if not jobs:
        return Evidence()
    results = await asyncio.gather(*jobs.values(), return_exceptions=True)
    evidence = Evidence()
    for kind, result in zip(jobs, results, strict=True):
        if isinstance(result, GatekeeperError):
            log.warning(
                "%s evidence for %s@%s failed: %s",
                kind.value,
                subject.repository,
                subject.digest,
                result.message,
            )
            continue
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            log.error(  # the type only: an error's repr may hold a request and its headers
                "%s gatherer crashed for %s@%s: %s",
                kind.value,
                subject.repository,
                subject.digest,
                type(result).__name__,
            )
            continue
        evidence = replace(evidence, **{kind.value: result})
    return evidence


async def _timed(kind: str, job: Awaitable[T]) -> T:
    """``await job``, observed in ``gatekeeper_evidence_duration_seconds``."""
    with metrics.timed(metrics.EVIDENCE_SECONDS, kind):
        return await job

"""RegistryAttestations: the VerdictSource for signed vulnerability attestations in the registry.

Reads cosign ``sha256-<hex>.att`` layers and attestation bundles attached as referrers
(:mod:`gatekeeper.gatherers.artifacts`), keeps those whose DSSE signature a trusted signer of
the rule made and whose statement is cosign's vuln predicate about the image
(:mod:`gatekeeper.trust.attestations`), and turns the newest into a verdict
(:mod:`gatekeeper.gatherers.vuln_predicate`).

Trust comes from the rule's ``signatures`` section: its keys, keyless identities, trusted root
and transparency-log rule; one trusted signature makes an attestation count (``threshold``
counts image signers only). A rule without that section trusts no signer, so this source
reads nothing for it and says so in the note.

Verdicts found are cached by :class:`gatekeeper.scans.gatherer.ScanVerdicts`, which asks
:meth:`RegistryAttestations.accepts` before a cached attestation verdict serves another rule:
each verdict's source text ends with the trust scope it was verified under. What this class
keeps itself is short: "nothing trusted found" for ``negative_ttl`` seconds (an attestation
may be pushed right after a refused pull), and one verification at a time per digest and
trust scope.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cachetools import TTLCache

from gatekeeper import metrics
from gatekeeper.admission.evidence import Subject
from gatekeeper.gatherers.artifacts import ArtifactKind, Discovery, RegistryArtifacts
from gatekeeper.gatherers.materials import compiled_material
from gatekeeper.gatherers.vuln_predicate import (
    SOURCE_PREFIX,
    VULN_PREDICATE,
    scope_suffix,
    verdict_from_statement,
)
from gatekeeper.policy.checks import as_utc
from gatekeeper.policy.evidence import ScanVerdict
from gatekeeper.policy.model import ScanPolicy, SignaturePolicy
from gatekeeper.scans.errors import ScanError
from gatekeeper.scans.gatherer import Found
from gatekeeper.state.singleflight import SingleFlight
from gatekeeper.trust.attestations import DSSE_MEDIA_TYPE, evaluate_attestations
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial, trust_scope
from gatekeeper.trust.verify import problem_line
from gatekeeper.upstream.client import Upstream

log = logging.getLogger("gatekeeper.attestations")

NO_SIGNERS = "not read: the rule has no signatures section, so no attestation can be trusted"
_COUNTS = metrics.cache("attestations")
SHOWN_PROBLEMS = 2  # reasons quoted in the note; the decision log keeps it short


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RegistryAttestations:
    """Signed cosign vulnerability attestations of an image, as a VerdictSource."""

    name = "vulnerability attestations in the registry"

    def __init__(
        self,
        upstream: Upstream,
        *,
        limits: TrustLimits = DEFAULT_LIMITS,
        negative_ttl: float = 10.0,
        max_entries: int = 10_000,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._artifacts = RegistryArtifacts(upstream, limits.max_candidates)
        self._kind = ArtifactKind(
            tag_suffix=".att",
            layer_media_type=DSSE_MEDIA_TYPE,
            predicate_type=VULN_PREDICATE,
            max_layer_bytes=limits.max_attestation_bytes,
            max_bundle_bytes=limits.max_attestation_bytes,
        )
        self._limits = limits
        self._clock = clock
        self._misses: TTLCache[tuple[str, str], Found] = TTLCache(max_entries, negative_ttl)
        self._flights: SingleFlight[tuple[str, str], Found] = SingleFlight()
        self.verifications = 0  # how many times artifacts were fetched and verified

    async def find(
        self, subject: Subject, policy: ScanPolicy, signatures: SignaturePolicy | None
    ) -> Found:
        """The newest trusted vulnerability verdict attested for ``subject``."""
        if signatures is None:
            return Found(None, NO_SIGNERS)
        material = compiled_material(signatures)
        scope = trust_scope(signatures, material)
        # Where they are read matters for "none found", not for whom a verdict is trusted.
        key = (subject.digest, f"{scope} {signatures.repository or ''}")
        missed = self._misses.get(key)
        _COUNTS.count(missed is not None)
        if missed is not None:
            return missed
        return await self._flights.run(
            key, lambda: self._verify(subject, signatures, material, scope)
        )

    async def accepts(self, verdict: ScanVerdict, signatures: SignaturePolicy | None) -> bool:
        """Verdicts of other sources: yes; ours: only under the trust they were verified in."""
        if not verdict.source.startswith(SOURCE_PREFIX):
            return True
        if signatures is None or signatures.material is None:
            return False
        return verdict.source.endswith(scope_suffix(trust_scope(signatures, signatures.material)))

    async def _verify(
        self, subject: Subject, signatures: SignaturePolicy, material: TrustMaterial, scope: str
    ) -> Found:
        self.verifications += 1
        found = await self._artifacts.discover(subject, self._kind, signatures.repository)
        with metrics.timed(metrics.VERIFICATION_SECONDS, "attestations"):
            answer = await asyncio.to_thread(
                self._evaluate, found, subject.digest, signatures, material, scope
            )
        if answer.verdict is None:
            self._misses[(subject.digest, f"{scope} {signatures.repository or ''}")] = answer
        return answer

    def _evaluate(
        self,
        found: Discovery,
        digest: str,
        signatures: SignaturePolicy,
        material: TrustMaterial,
        scope: str,
    ) -> Found:
        """Verify the candidates and read their predicates (CPU only: runs in a thread)."""
        evidence = evaluate_attestations(
            found.candidates,
            digest,
            VULN_PREDICATE,
            signatures,
            material,
            looked_at=found.looked_at,
            limits=self._limits,
        )
        problems = [*found.problems, *evidence.problems]
        verdicts: list[ScanVerdict] = []
        now = self._clock()
        for statement in evidence.statements:
            try:
                verdicts.append(verdict_from_statement(statement, digest, scope, now))
            except ScanError as exc:
                problems.append(problem_line(statement.source, exc.message, self._limits))
        for problem in problems:
            log.debug("attestation for %s does not count: %s", digest, problem)
        if verdicts:  # several scans of one image: the latest decides, as everywhere
            return Found(max(verdicts, key=lambda v: as_utc(v.created or now)))
        return Found(None, _note(len(found.candidates), found.looked_at, problems))


def _note(candidates: int, looked_at: tuple[str, ...], problems: list[str]) -> str:
    if not problems:
        return f"none in {', '.join(looked_at)}"
    shown = "; ".join(problems[:SHOWN_PROBLEMS])
    more = (
        f"; … and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
    )
    counted = f"{candidates} found, none counted" if candidates else "none read"
    return f"{counted}: {shown}{more}"

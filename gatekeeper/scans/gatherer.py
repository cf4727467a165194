"""ScanVerdicts: the ScanGatherer that finds the newest verdict for the manifest admitted.

Where it looks, cheapest first, and when it stops:

1. the :class:`VerdictCache` (scanner and attestation verdicts, shared through Redis) and the
   :class:`VerdictDirectory` (Trivy reports, already in memory) — both, because the newest
   ``created`` wins ("the latest verdict decides"); a verdict fresh enough for
   ``scan.max_age`` ends the search;
2. further :class:`VerdictSource`\\ s, in order (signed vulnerability attestations in the
   registry); a verdict found is cached. A source's verdicts may depend on whom the rule
   trusts (``rule.signatures``), so every source is asked whether a cached verdict may serve
   this rule (:meth:`VerdictSource.accepts`) before the cache counts;
3. the Harbor scanner adapter, when the rule sets ``scan.scanner``: at most
   ``wait_seconds``, after which the scan continues in the background and its report is
   cached when it arrives.

Directory verdicts are not copied into the cache: the directory is already in memory, and a
removed or replaced report must stop counting within seconds, not after a cache TTL.

When nothing is found, :attr:`ScanEvidence.note` says where gatekeeper looked and, where a
source says so, why what it found did not count (the policy core prints it as "no
vulnerability verdict for … (looked at: NOTE)"). Deciding is left to the policy core; this
module only finds verdicts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from gatekeeper.admission.evidence import Subject
from gatekeeper.errors import GatekeeperError
from gatekeeper.policy.checks import as_utc
from gatekeeper.policy.evidence import ScanEvidence, ScanVerdict
from gatekeeper.policy.model import ScanPolicy, SignaturePolicy
from gatekeeper.scans.cache import VerdictCache
from gatekeeper.scans.directory import VerdictDirectory
from gatekeeper.scans.harbor import HarborScanner

log = logging.getLogger("gatekeeper.scans")


@dataclass(frozen=True, slots=True)
class Found:
    """A source's answer: its verdict for the digest, or None and (optionally) why not."""

    verdict: ScanVerdict | None
    note: str = ""  # e.g. "1 found, none counted: …"; shown after the source's name


class VerdictSource(Protocol):
    """A further place verdicts come from, asked when cache and directory have none fresh.

    ``find`` answers for ``subject.digest`` under the rule's scan policy and trusted signers
    (None when the rule has no ``signatures`` section); it raises only
    :class:`GatekeeperError` (logged, and named in the note). Verdicts it returns are cached.
    """

    @property
    def name(self) -> str:
        """Where it looks, for the note: e.g. "vulnerability attestations in the registry"."""
        ...

    async def find(
        self, subject: Subject, policy: ScanPolicy, signatures: SignaturePolicy | None
    ) -> Found:
        """The verdict this source holds for ``subject``, if any."""
        ...

    async def accepts(self, verdict: ScanVerdict, signatures: SignaturePolicy | None) -> bool:
        """Whether a cached ``verdict`` may serve a rule trusting ``signatures``.

        True for verdicts this source did not make; for its own, whether they were
        verified under the same trust (a verdict signed by one rule's signers must not
        decide for a rule that trusts others).
        """
        ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ScanVerdicts:
    """A :data:`gatekeeper.admission.evidence.ScanGatherer` over the configured sources."""

    def __init__(
        self,
        cache: VerdictCache,
        *,
        directory: VerdictDirectory | None = None,
        scanner: HarborScanner | None = None,
        sources: Sequence[VerdictSource] = (),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._cache = cache
        self._directory = directory
        self._scanner = scanner
        self._sources = tuple(sources)
        self._clock = clock

    async def __call__(
        self, subject: Subject, policy: ScanPolicy, signatures: SignaturePolicy | None = None
    ) -> ScanEvidence:
        """The newest verdict for ``subject.digest``, or None and where gatekeeper looked.

        ``signatures`` is the rule's signature policy: whom attestation verdicts must be
        signed by.
        """
        digest = subject.digest
        now = self._clock()
        looked: list[str] = []
        best = await self._cache.get(digest)
        if best is not None and not await self._usable(best, signatures):
            best = None
        if self._directory is not None:
            looked.append(f"reports in {self._directory.path}")
            best = _newest(best, self._directory.lookup(digest))
        if _fresh(best, policy, now):
            return ScanEvidence(best)
        for source in self._sources:
            try:
                lookup = await source.find(subject, policy, signatures)
            except GatekeeperError as exc:
                log.warning("%s for %s: %s", source.name, digest, exc.message)
                looked.append(f"{source.name} (failed: {exc.message})")
                continue
            looked.append(f"{source.name} ({lookup.note})" if lookup.note else source.name)
            found = lookup.verdict
            if found is None:
                continue
            if found.digest != digest:
                log.warning(
                    "%s answered for %s with a verdict on %s: ignored",
                    source.name,
                    digest,
                    found.digest,
                )
                continue
            await self._cache.put(found)
            best = _newest(best, found)
            if _fresh(best, policy, now):
                return ScanEvidence(best)
        if policy.scanner is not None:
            if self._scanner is None:
                looked.append(f"scanner {policy.scanner} (not asked: no scanner client)")
            else:
                answer = await self._scanner.verdict(subject, policy.scanner)
                looked.append(f"scanner {policy.scanner} ({answer.status})")
                best = _newest(best, answer.verdict)
        if best is not None:
            return ScanEvidence(best)
        return ScanEvidence(None, note=", ".join(looked) or "no verdict source is configured")

    async def _usable(self, verdict: ScanVerdict, signatures: SignaturePolicy | None) -> bool:
        """Every source agrees that the cached ``verdict`` may serve this rule."""
        for source in self._sources:
            try:
                if not await source.accepts(verdict, signatures):
                    return False
            except GatekeeperError as exc:
                log.warning("%s cannot vouch for a cached verdict: %s", source.name, exc.message)
                return False
        return True


def _newest(current: ScanVerdict | None, other: ScanVerdict | None) -> ScanVerdict | None:
    """The later of two verdicts by ``created`` (None: oldest; a tie keeps ``current``)."""
    if current is None:
        return other
    if other is None or other.created is None:
        return current
    if current.created is None or as_utc(other.created) > as_utc(current.created):
        return other
    return current


def _fresh(verdict: ScanVerdict | None, policy: ScanPolicy, now: datetime) -> bool:
    """Whether ``verdict`` ends the search: it exists and ``scan.max_age`` allows it.

    Only decides whether to ask further sources; the policy core judges the verdict.
    """
    if verdict is None:
        return False
    if policy.max_age is None:
        return True
    return verdict.created is not None and as_utc(verdict.created) + policy.max_age >= as_utc(now)

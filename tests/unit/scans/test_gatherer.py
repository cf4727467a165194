"""ScanVerdicts: where it looks, which verdict wins, and what it says when there is none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from gatekeeper.admission.evidence import Gatherers, Subject, gather
from gatekeeper.errors import GatekeeperError
from gatekeeper.policy.evidence import AdmissionRequest, ScanVerdict
from gatekeeper.policy.model import Action, Rule, ScanPolicy, SignaturePolicy
from gatekeeper.policy.scan_checks import check_scan
from gatekeeper.scans.cache import VerdictCache
from gatekeeper.scans.directory import DirectoryLimits, VerdictDirectory
from gatekeeper.scans.gatherer import Found, ScanVerdicts, VerdictSource
from gatekeeper.scans.harbor import HarborLimits, HarborScanner
from tests.helpers.harbor_adapter import HarborAdapter, vulnerability
from tests.unit.scans.conftest import ALPINE, DEBIAN, retarget, subject

NOW = datetime(2024, 6, 1, tzinfo=UTC)
POLICY = ScanPolicy(deny_severities=("CRITICAL", "HIGH"))


@dataclass
class CountingSource:
    """A VerdictSource that answers from a dict and counts how often it was asked."""

    answers: dict[str, ScanVerdict] = field(default_factory=dict)
    fail: bool = False
    calls: int = 0
    name: str = "vulnerability attestations in the registry"
    note: str = ""
    refused: set[str] = field(default_factory=set)  # cached verdict sources it rejects
    trusted: list[SignaturePolicy | None] = field(default_factory=list)  # as passed to find

    async def find(
        self, subject: Subject, policy: ScanPolicy, signatures: SignaturePolicy | None
    ) -> Found:
        self.calls += 1
        self.trusted.append(signatures)
        if self.fail:
            raise GatekeeperError("registry said no")
        return Found(self.answers.get(subject.digest), self.note)

    async def accepts(self, verdict: ScanVerdict, signatures: SignaturePolicy | None) -> bool:
        return verdict.source not in self.refused


def made(image: Subject, days_ago: int, source: str = "cache") -> ScanVerdict:
    return ScanVerdict(image.digest, source, NOW - timedelta(days=days_ago), ())


@pytest.fixture
async def directory(tmp_path: Path) -> AsyncIterator[VerdictDirectory]:
    async with VerdictDirectory(tmp_path, DirectoryLimits(interval=0.05)) as watched:
        yield watched


async def test_a_cached_verdict_is_used_and_further_sources_are_not_asked() -> None:
    image, cache, source = subject(label="cached"), VerdictCache(), CountingSource()
    await cache.put(made(image, 1))
    evidence = await ScanVerdicts(cache, sources=[source], clock=lambda: NOW)(image, POLICY)
    assert evidence.verdict == made(image, 1)
    assert source.calls == 0


async def test_cache_and_directory_are_both_read_and_the_newest_wins(
    directory: VerdictDirectory,
) -> None:
    image, cache = subject(label="newest"), VerdictCache()
    (directory.path / "r.json").write_bytes(retarget(ALPINE, image.digest))  # created 2021
    await directory.refresh()
    gatherer = ScanVerdicts(cache, directory=directory, clock=lambda: NOW)
    assert (await gatherer(image, POLICY)).verdict == directory.lookup(image.digest)
    await cache.put(made(image, 3))  # 2024: newer than the 2021 report
    assert (await gatherer(image, POLICY)).verdict == made(image, 3)
    (directory.path / "r.json").write_bytes(
        retarget(ALPINE, image.digest, CreatedAt=(NOW - timedelta(days=1)).isoformat())
    )
    await directory.refresh()
    assert (await gatherer(image, POLICY)).verdict == directory.lookup(image.digest)


async def test_a_stale_verdict_sends_the_search_on_and_a_found_verdict_is_cached() -> None:
    image, cache = subject(label="stale"), VerdictCache()
    await cache.put(made(image, 30))
    fresh = made(image, 0, source="attestation")
    source = CountingSource({image.digest: fresh})
    policy = ScanPolicy(max_age=timedelta(days=7))
    gatherer = ScanVerdicts(cache, sources=[source], clock=lambda: NOW)
    assert (await gatherer(image, policy)).verdict == fresh
    assert source.calls == 1
    assert await cache.get(image.digest) == fresh
    assert (await gatherer(image, policy)).verdict == fresh
    assert source.calls == 1  # the cached attestation verdict ended the second search


async def test_nothing_found_notes_where_it_looked_and_the_core_refuses(
    directory: VerdictDirectory,
) -> None:
    image = subject(label="nothing")
    failing = CountingSource(fail=True)
    async with aiohttp.ClientSession() as session, HarborAdapter(ready_after=5) as adapter:
        scanner = HarborScanner(
            session, VerdictCache(), registry_url="http://r", limits=HarborLimits(wait_seconds=0.1)
        )
        gatherer = ScanVerdicts(
            VerdictCache(),
            directory=directory,
            scanner=scanner,
            sources=[failing],
            clock=lambda: NOW,
        )
        policy = ScanPolicy(scanner=adapter.url)
        evidence = await gatherer(image, policy)
        await scanner.close()
    assert evidence.verdict is None
    assert evidence.note == (
        f"reports in {directory.path}, vulnerability attestations in the registry"
        f" (failed: registry said no), scanner {adapter.url} (scan requested, no verdict yet)"
    )
    request = AdmissionRequest(Action.PULL, "team/app", "v1", image.digest, "", NOW)
    (refused,) = check_scan(policy, evidence, request).refusals
    assert refused.reason.startswith(f"no vulnerability verdict for {image.digest} (looked at:")
    assert "looked at: looked at" not in refused.reason


async def test_a_scanner_named_by_policy_without_a_client_is_noted() -> None:
    evidence = await ScanVerdicts(VerdictCache())(subject(), ScanPolicy(scanner="http://s"))
    assert evidence.note == "scanner http://s (not asked: no scanner client)"
    assert (await ScanVerdicts(VerdictCache())(subject(), POLICY)).note == (
        "no verdict source is configured"
    )


async def test_a_source_answering_for_another_digest_is_ignored() -> None:
    image, other = subject(label="mine"), subject(label="theirs")
    source = CountingSource({image.digest: made(other, 0)})
    evidence = await ScanVerdicts(VerdictCache(), sources=[source])(image, POLICY)
    assert evidence.verdict is None


async def test_the_scanner_answer_is_used_when_it_comes_within_the_wait() -> None:
    image = subject(label="scanned")
    vulns = [vulnerability("CVE-2019-18224", "libidn2-0", "2.0.5-1", "2.0.5-1+deb10u1", "Critical")]
    async with aiohttp.ClientSession() as session, HarborAdapter(vulns) as adapter:
        cache = VerdictCache()
        scanner = HarborScanner(
            session, cache, registry_url="http://r", limits=HarborLimits(min_poll=0.05)
        )
        gatherer = ScanVerdicts(cache, scanner=scanner)
        policy = ScanPolicy(scanner=adapter.url)
        evidence = await gatherer(image, policy)
        await scanner.close()
    request = AdmissionRequest(Action.PULL, "team/app", "v1", image.digest, "", NOW)
    (refused,) = check_scan(policy, evidence, request).refusals
    assert "CVE-2019-18224 in libidn2-0 2.0.5-1 → 2.0.5-1+deb10u1 (CRITICAL)" in refused.reason


@pytest.mark.parametrize(
    ("report", "refused"),
    [(DEBIAN, True), (ALPINE, False)],  # CRITICAL CVE-2019-18224 vs only MEDIUM findings
)
async def test_real_reports_through_the_policy_core(
    directory: VerdictDirectory, report: Path, refused: bool
) -> None:
    image = subject(label=f"real {report.name}")
    (directory.path / "report.json").write_bytes(retarget(report, image.digest))
    await directory.refresh()
    evidence = await ScanVerdicts(VerdictCache(), directory=directory)(image, POLICY)
    request = AdmissionRequest(Action.PULL, "team/app", "v1", image.digest, "", NOW)
    result = check_scan(POLICY, evidence, request)
    assert bool(result.refusals) is refused


def test_counting_source_satisfies_the_protocol() -> None:
    source: VerdictSource = CountingSource()
    assert source.name


async def test_the_rules_signers_reach_the_sources_through_gather() -> None:
    image, source = subject(label="trusted"), CountingSource(note="none in tag x.att")
    signers = SignaturePolicy(keys=(Path("/keys/cosign.pub"),))
    rule = Rule("scanned", ("team/**",), (), signatures=signers, scan=POLICY)
    gatherers = Gatherers(scan=ScanVerdicts(VerdictCache(), sources=[source], clock=lambda: NOW))
    evidence = await gather(rule, image, gatherers)
    assert source.trusted == [signers]
    assert evidence.scan is not None and evidence.scan.verdict is None
    assert evidence.scan.note == "vulnerability attestations in the registry (none in tag x.att)"


async def test_a_cached_verdict_a_source_does_not_vouch_for_is_not_used() -> None:
    image, cache = subject(label="scoped"), VerdictCache()
    foreign = made(image, 0, source="attestation signed by someone else")
    mine = made(image, 1, source="attestation signed by us")
    await cache.put(foreign)
    source = CountingSource({image.digest: mine}, refused={foreign.source})
    gatherer = ScanVerdicts(cache, sources=[source], clock=lambda: NOW)
    assert (await gatherer(image, POLICY)).verdict == mine  # though older than the cached one
    assert source.calls == 1
    assert await cache.get(image.digest) == mine
    assert (await gatherer(image, POLICY)).verdict == mine
    assert source.calls == 1  # now the cache holds a verdict the source vouches for

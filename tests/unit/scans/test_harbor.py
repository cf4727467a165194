"""HarborScanner against a spec-following adapter: requests, bounded waits, single flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from gatekeeper.policy.evidence import Finding
from gatekeeper.scans import harbor_api as api
from gatekeeper.scans.cache import VerdictCache
from gatekeeper.scans.errors import ScannerError
from gatekeeper.scans.harbor import HarborLimits, HarborScanner
from tests.helpers.harbor_adapter import HarborAdapter, vulnerability
from tests.helpers.processes import free_port
from tests.unit.scans.conftest import digest_for, subject

REGISTRY = "http://registry.internal:5000"
VULNS = [
    vulnerability("CVE-2019-12900", "libbz2", "1.0.6-r6", "1.0.6-r7", "Critical"),
    vulnerability("CVE-2019-18276", "bash", "5.0-4", None, "Negligible"),
]
QUICK = HarborLimits(wait_seconds=2.0, min_poll=0.05, default_poll=0.05)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def scanner_for(
    session: aiohttp.ClientSession, cache: VerdictCache, limits: HarborLimits = QUICK
) -> HarborScanner:
    return HarborScanner(
        session,
        cache,
        registry_url=REGISTRY,
        registry_authorization="Basic cm9ib3Q6c2VjcmV0",
        adapter_authorization="Bearer adapter-token",
        limits=limits,
    )


async def test_a_miss_requests_a_scan_and_returns_the_report_within_the_wait(
    session: aiohttp.ClientSession,
) -> None:
    cache = VerdictCache()
    image = subject("team/app", "miss")
    async with HarborAdapter(VULNS, ready_after=0.2) as adapter:
        scanner = scanner_for(session, cache)
        answer = await scanner.verdict(image, adapter.url)
        assert answer.status == "report received"
        assert answer.verdict is not None and answer.verdict.digest == image.digest
        assert answer.verdict.findings == (
            Finding("CVE-2019-12900", "libbz2", "1.0.6-r6", "1.0.6-r7", "CRITICAL"),
            Finding("CVE-2019-18276", "bash", "5.0-4", None, "LOW"),
        )
        assert answer.verdict.source.startswith(f"scanner {adapter.url} (scan ")
        assert await cache.get(image.digest) == answer.verdict  # cached on arrival
        # The request says where to pull from and what, in the spec's media type.
        assert adapter.scan_requests == [
            {
                "registry": {"url": REGISTRY, "authorization": "Basic cm9ib3Q6c2VjcmV0"},
                "artifact": {
                    "repository": "team/app",
                    "digest": image.digest,
                    "mime_type": "application/vnd.oci.image.manifest.v1+json",
                },
            }
        ]
        headers = adapter.scan_headers[0]
        assert headers["Content-Type"] == api.SCAN_REQUEST_TYPE
        assert headers["Authorization"] == "Bearer adapter-token"
        assert adapter.report_polls >= 2  # at least one 302 before the 200
        await scanner.close()


async def test_the_request_waits_at_most_the_bound_and_the_report_is_cached_later(
    session: aiohttp.ClientSession,
) -> None:
    cache = VerdictCache()
    image = subject("team/app", "slow")
    limits = HarborLimits(wait_seconds=0.2, min_poll=0.05)
    async with HarborAdapter(VULNS, ready_after=0.8) as adapter:
        scanner = scanner_for(session, cache, limits)
        started = time.monotonic()
        answer = await scanner.verdict(image, adapter.url)
        waited = time.monotonic() - started
        assert (answer.verdict, answer.status) == (None, "scan requested, no verdict yet")
        assert 0.15 < waited < 0.6
        assert scanner.in_flight == 1
        deadline = time.monotonic() + 5
        while await cache.get(image.digest) is None:
            assert time.monotonic() < deadline, "the report never reached the cache"
            await asyncio.sleep(0.05)
        later = await scanner.verdict(image, adapter.url)
        assert later.verdict == await cache.get(image.digest)
        assert len(adapter.scan_requests) == 1  # the later hit did not scan again
        assert scanner.in_flight == 0
        await scanner.close()


async def test_concurrent_misses_share_one_scan(session: aiohttp.ClientSession) -> None:
    image = subject("team/app", "flight")
    async with HarborAdapter(VULNS, ready_after=0.3) as adapter:
        scanner = scanner_for(session, VerdictCache())
        answers = await asyncio.gather(*(scanner.verdict(image, adapter.url) for _ in range(20)))
        assert len(adapter.scan_requests) == 1
        assert {a.verdict for a in answers} == {answers[0].verdict}
        assert answers[0].verdict is not None
        other = subject("team/app", "other")
        await scanner.verdict(other, adapter.url + "/api/v1/")  # same adapter, spelled out
        assert len(adapter.scan_requests) == 2  # a different digest is a different scan
        await scanner.close()


async def test_refresh_after_is_honoured(session: aiohttp.ClientSession) -> None:
    image = subject("team/app", "refresh")
    async with HarborAdapter(VULNS, ready_after=0.3, refresh_after=1) as adapter:
        scanner = scanner_for(session, VerdictCache(), HarborLimits(wait_seconds=3, min_poll=0.01))
        started = time.monotonic()
        answer = await scanner.verdict(image, adapter.url)
        assert answer.verdict is not None
        assert adapter.report_polls == 2  # 302 (Refresh-After: 1), then 200 one second later
        assert time.monotonic() - started >= 1.0
        await scanner.close()


async def test_a_refused_scan_is_reported_and_not_retried_during_the_backoff(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    image = subject("team/app", "broken")
    async with HarborAdapter(VULNS, scan_status=500) as adapter:
        scanner = scanner_for(session, VerdictCache())
        first = await scanner.verdict(image, adapter.url)
        assert first.verdict is None
        assert first.status == "scan failed: POST /scan answered 500: scanner is broken on purpose"
        second = await scanner.verdict(image, adapter.url)
        assert second.status == first.status
        assert len(adapter.scan_requests) == 1
        assert any(
            "scan of" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records
        )
        await scanner.close()


async def test_a_report_about_another_digest_is_refused(session: aiohttp.ClientSession) -> None:
    image = subject("team/app", "mixup")
    cache = VerdictCache()
    async with HarborAdapter(VULNS, report_digest=digest_for("elsewhere")) as adapter:
        answer = await scanner_for(session, cache).verdict(image, adapter.url)
    assert answer.verdict is None
    assert "is about sha256:" in answer.status
    assert await cache.get(image.digest) is None


async def test_an_unreachable_adapter_is_a_failed_scan_not_an_exception(
    session: aiohttp.ClientSession,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    answer = await scanner_for(session, VerdictCache()).verdict(subject(), url)
    assert answer.verdict is None
    assert answer.status.startswith(f"scan failed: POST {url}/api/v1/scan failed")


async def test_metadata_of_the_test_adapter_follows_the_spec(
    session: aiohttp.ClientSession,
) -> None:
    async with HarborAdapter() as adapter, session.get(adapter.url + "/api/v1/metadata") as resp:
        doc = await resp.json(content_type=None)
    assert resp.headers["Content-Type"].startswith("application/vnd.scanner.adapter.metadata")
    (capability,) = doc["capabilities"]
    assert api.REPORT_TYPE in capability["produces_mime_types"]


@pytest.mark.parametrize(
    ("harbor", "trivy"),
    [
        ("Critical", "CRITICAL"),
        ("High", "HIGH"),
        ("Medium", "MEDIUM"),
        ("Low", "LOW"),
        ("Negligible", "LOW"),
        ("Unknown", "UNKNOWN"),
        ("critical", "CRITICAL"),
    ],
)
def test_severities_map_onto_trivys(harbor: str, trivy: str) -> None:
    data = (
        b'{"vulnerabilities": [{"id": "CVE-1", "package": "p", "version": "1", '
        b'"severity": "' + harbor.encode() + b'"}]}'
    )
    verdict = api.parse_report(
        data,
        digest=digest_for("x"),
        source="s",
        received=datetime(2024, 1, 1, tzinfo=UTC),
        max_bytes=1 << 20,
        max_findings=10,
    )
    assert verdict.findings[0].severity == trivy
    assert verdict.created == datetime(2024, 1, 1, tzinfo=UTC)  # no generated_at


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"vulnerabilities": [{"id": "CVE-1", "severity": "Severe"}]}', "not one of the spec"),
        (b'{"vulnerabilities": [{"severity": "High"}]}', "id is missing"),
        (b'{"vulnerabilities": {}}', "not an array"),
        (b'{"vulnerabilities": [], "generated_at": "soon"}', "not an RFC 3339"),
        (b'{"artifact": [], "vulnerabilities": []}', "artifact is not an object"),
        (b"[]", "not a JSON object"),
    ],
)
def test_malformed_reports_are_scanner_errors(data: bytes, message: str) -> None:
    with pytest.raises(ScannerError, match=message):
        api.parse_report(
            data,
            digest=digest_for("x"),
            source="s",
            received=datetime.now(UTC),
            max_bytes=1 << 20,
            max_findings=10,
        )


@pytest.mark.parametrize(
    ("header", "seconds"), [("3", 3.0), (" 0 ", 0.0), ("-1", None), ("soon", None), (None, None)]
)
def test_refresh_after_header(header: str | None, seconds: float | None) -> None:
    assert api.refresh_after(header) == seconds

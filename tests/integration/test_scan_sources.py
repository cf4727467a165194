"""Scan verdicts through a real gatekeeper in front of a real registry.

Real Trivy reports (tests/assets/trivy) are retargeted to the digests of images pushed here;
gatekeeper runs as ``serve --verdicts DIR``; the Harbor adapter is the spec-following one in
tests/helpers, run on its own event loop in a thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import images
from tests.helpers.harbor_adapter import HarborAdapter, vulnerability
from tests.helpers.processes import Process, free_port, start_gatekeeper
from tests.helpers.redis_server import RedisServer
from tests.helpers.trivy_reports import ALPINE, DEBIAN, MANY, publish

ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}

POLICY = """
rules:
  - name: scanned
    repositories: ["scanned/**"]
    scan:
      deny_severities: [CRITICAL, HIGH]
      require_verdict: true
  - name: accepted-risk
    repositories: ["accepted/**"]
    scan:
      deny_severities: [CRITICAL]
      ignore:
        - {{id: CVE-2019-12900, reason: "not reachable in our use", until: 2099-06-30}}
  - name: expired-risk
    repositories: ["expired/**"]
    scan:
      deny_severities: [CRITICAL]
      ignore:
        - {{id: CVE-2019-12900, reason: "was not reachable", until: 2020-01-31}}
  - name: optional
    repositories: ["optional/**"]
    scan: {{require_verdict: false}}
  - name: harbor
    repositories: ["harbor/**"]
    scan: {{deny_severities: [CRITICAL], scanner: "{scanner}"}}
"""


class AdapterThread:
    """The async test adapter, served from a thread so sync tests can use it."""

    def __init__(self, **options: Any) -> None:
        self.adapter = HarborAdapter(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> HarborAdapter:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.adapter.__aenter__(), self._loop).result(10)
        return self.adapter

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.adapter.__aexit__(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module")
def adapter() -> Iterator[HarborAdapter]:
    vulns = [
        vulnerability("CVE-2019-18224", "libidn2-0", "2.0.5-1", "2.0.5-1+deb10u1", "Critical"),
        vulnerability("CVE-2019-18276", "bash", "5.0-4", None, "Negligible"),
    ]
    with AdapterThread(vulnerabilities=vulns, ready_after=0.3) as running:
        yield running


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("verdicts")


@pytest.fixture(scope="module")
def gate(
    tmp_path_factory: pytest.TempPathFactory,
    registry: Process,
    verdicts: Path,
    adapter: HarborAdapter,
) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("scan-gate")
    policy = work / "policy.yaml"
    policy.write_text(POLICY.format(scanner=adapter.url))
    process = start_gatekeeper(work, registry.url, policy, "--verdicts", str(verdicts))
    yield process
    process.stop()


def seed(tmp_path: Path, registry: Process, repo: str) -> images.Image:
    """Push a fresh image straight to the registry as ``repo:1.0.0``."""
    img = images.image(f"scan {repo} {time.monotonic_ns()}")
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    return img


def pull(gate: Process, repo: str) -> requests.Response:
    return requests.get(f"{gate.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT, timeout=30)


def refusal(response: requests.Response) -> str:
    assert response.status_code == 403, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "DENIED"
    return json.dumps(error, ensure_ascii=False)


def pull_until(gate: Process, repo: str, wanted: Callable[[requests.Response], bool]) -> None:
    """Pull until ``wanted(response)``: a report published takes effect within 5 s."""
    deadline = time.monotonic() + 5
    while not wanted(response := pull(gate, repo)):
        assert time.monotonic() < deadline, (
            f"not within 5 s: {response.status_code} {response.text}"
        )
        time.sleep(0.25)


def test_a_critical_finding_refuses_the_pull_naming_the_cve(
    tmp_path: Path, registry: Process, gate: Process, verdicts: Path
) -> None:
    img = seed(tmp_path, registry, "scanned/critical")
    publish(verdicts, DEBIAN, img.digest)
    pull_until(gate, "scanned/critical", lambda r: "blocking" in r.text)
    text = refusal(pull(gate, "scanned/critical"))
    assert "CVE-2019-18224 in libidn2-0 2.0.5-1 → 2.0.5-1+deb10u1 (CRITICAL)" in text


def test_only_medium_findings_are_allowed(
    tmp_path: Path, registry: Process, gate: Process, verdicts: Path
) -> None:
    img = seed(tmp_path, registry, "scanned/medium")
    publish(verdicts, ALPINE, img.digest)
    pull_until(gate, "scanned/medium", lambda r: r.status_code == 200)
    assert pull(gate, "scanned/medium").headers["Docker-Content-Digest"] == img.digest


def test_a_missing_verdict_refuses_and_a_report_dropped_in_later_takes_effect(
    tmp_path: Path, registry: Process, gate: Process, verdicts: Path
) -> None:
    img = seed(tmp_path, registry, "scanned/later")
    text = refusal(pull(gate, "scanned/later"))
    assert f"no vulnerability verdict for {img.digest}" in text
    assert f"reports in {verdicts}" in text
    publish(verdicts, ALPINE, img.digest)
    pull_until(gate, "scanned/later", lambda r: r.status_code == 200)


def test_an_ignored_cve_is_allowed_until_its_expiry(
    tmp_path: Path, registry: Process, gate: Process, verdicts: Path
) -> None:
    accepted = seed(tmp_path, registry, "accepted/app")
    expired = seed(tmp_path, registry, "expired/app")
    publish(verdicts, MANY, accepted.digest)
    publish(verdicts, MANY, expired.digest)
    pull_until(gate, "accepted/app", lambda r: r.status_code == 200)
    pull_until(gate, "expired/app", lambda r: "blocking" in r.text)
    text = refusal(pull(gate, "expired/app"))
    assert "CVE-2019-12900 in libbz2" in text
    assert "the scan.ignore entry for CVE-2019-12900 expired on 2020-01-31" in text


def test_require_verdict_false_allows_an_unscanned_image(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    seed(tmp_path, registry, "optional/app")
    assert pull(gate, "optional/app").status_code == 200


def test_the_harbor_adapter_is_asked_once_and_its_verdict_refuses(
    tmp_path: Path, registry: Process, gate: Process, adapter: HarborAdapter
) -> None:
    img = seed(tmp_path, registry, "harbor/app")
    asked = len(adapter.scan_requests)
    text = refusal(pull(gate, "harbor/app"))  # the report comes within the 2 s wait
    assert "CVE-2019-18224 in libidn2-0" in text
    text = refusal(pull(gate, "harbor/app"))  # from the cache this time
    assert "CVE-2019-18224 in libidn2-0" in text
    requests_for_image = [
        r for r in adapter.scan_requests[asked:] if r["artifact"]["digest"] == img.digest
    ]
    assert len(requests_for_image) == 1
    assert requests_for_image[0]["registry"]["url"] == registry.url
    assert requests_for_image[0]["artifact"]["repository"] == "harbor/app"


def test_replicas_sharing_redis_reuse_one_scanner_verdict(
    tmp_path: Path, registry: Process, adapter: HarborAdapter
) -> None:
    redis = RedisServer(free_port(), tmp_path)
    redis.start()
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(scanner=adapter.url))
    replicas: list[Process] = []
    try:
        for name in ("a", "b"):
            work = tmp_path / name
            work.mkdir()
            replicas.append(start_gatekeeper(work, registry.url, policy, "--redis", redis.url))
        img = seed(tmp_path, registry, "harbor/shared")
        asked = len(adapter.scan_requests)
        first, second = replicas
        assert "CVE-2019-18224" in refusal(pull(first, "harbor/shared"))
        assert "CVE-2019-18224" in refusal(pull(second, "harbor/shared"))  # from Redis
        scans = [r for r in adapter.scan_requests[asked:] if r["artifact"]["digest"] == img.digest]
        assert len(scans) == 1
    finally:
        for replica in replicas:
            replica.stop()
        redis.stop()

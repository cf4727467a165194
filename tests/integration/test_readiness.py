"""``/readyz`` answers from a cached upstream state: probes do not reach the registry each
time, and readiness follows the registry going away and coming back."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.processes import Process, start_gatekeeper, start_registry, wait_http
from tests.helpers.proxies import CountingProxy

INTERVAL = 1.0


def upstream_up(gate: Process) -> dict[str, float]:
    text = requests.get(f"{gate.url}/metrics", timeout=10).text
    return {
        sample.labels["upstream"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "gatekeeper_upstream_up"
        for sample in family.samples
    }


def wait_ready(gate: Process, status: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while (got := requests.get(f"{gate.url}/readyz", timeout=10).status_code) != status:
        assert time.monotonic() < deadline, f"/readyz stayed {got}, expected {status}"
        time.sleep(0.2)


def test_readiness_probes_do_not_reach_the_upstream_each_time(
    tmp_path: Path, registry: Process, permissive_policy: Path
) -> None:
    with CountingProxy(registry.url) as counting:
        gate = start_gatekeeper(
            tmp_path,
            counting.url,
            permissive_policy,
            "--upstream-probe-interval",
            str(INTERVAL),
        )
        try:
            started = time.monotonic()
            with requests.Session() as session:
                for _ in range(200):
                    assert session.get(f"{gate.url}/readyz", timeout=10).status_code == 200
            elapsed = time.monotonic() - started
            probes = counting.paths.count("/v2/")
            # At most one per interval (the background refresh included), plus the first.
            assert 1 <= probes <= elapsed / INTERVAL + 3, (probes, elapsed)
            assert upstream_up(gate) == {"default": 1.0}
        finally:
            gate.stop()


def test_readiness_follows_the_registry(tmp_path: Path, permissive_policy: Path) -> None:
    registry = start_registry(tmp_path / "reg")
    gate = start_gatekeeper(
        tmp_path, registry.url, permissive_policy, "--upstream-probe-interval", str(INTERVAL)
    )
    try:
        wait_ready(gate, 200)
        registry.stop()
        wait_ready(gate, 503)
        body = requests.get(f"{gate.url}/readyz", timeout=10).json()
        assert registry.url in body["reason"]
        assert upstream_up(gate) == {"default": 0.0}
        assert requests.get(f"{gate.url}/healthz", timeout=10).status_code == 200
        # The same registry (same config, same port) comes back.
        with registry.log_path.open("ab") as log:
            registry.proc = subprocess.Popen(
                ["docker-registry", "serve", str(tmp_path / "reg" / "config.yml")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_http(f"{registry.url}/v2/", registry.proc)
        wait_ready(gate, 200)
        assert upstream_up(gate) == {"default": 1.0}
        assert "Traceback" not in gate.log()
    finally:
        gate.stop()
        registry.stop()

"""``/metrics`` of a real gatekeeper after allowed, refused and dry-run pulls (one process and
``--workers 2``), parsed with prometheus_client's own parser."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import images
from tests.helpers.processes import Process, free_port, running, start_gatekeeper
from tests.helpers.redis_server import RedisServer
from tests.helpers.registry_push import push_blob, push_manifest

POLICY = """
rules:
  - name: open
    repositories: ["open/**"]
  - name: trial
    repositories: ["trial/**"]
    mode: dry-run
    tags: {deny: [latest]}
  - name: closed
    repositories: ["**"]
    action: deny
"""
ACCEPT = {"Accept": images.OCI_MANIFEST}

FAMILIES = {
    "gatekeeper_requests",
    "gatekeeper_request_duration_seconds",
    "gatekeeper_requests_in_flight",
    "gatekeeper_upstream_streams_in_flight",
    "gatekeeper_decisions",
    "gatekeeper_decision_reasons",
    "gatekeeper_upstream_request_duration_seconds",
    "gatekeeper_upstream_errors",
    "gatekeeper_evidence_duration_seconds",
    "gatekeeper_verification_duration_seconds",
    "gatekeeper_cache_hits",
    "gatekeeper_cache_misses",
    "gatekeeper_policy_reloads",
    "gatekeeper_policy_info",
    "gatekeeper_build_info",
}


def samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``url``/metrics, keyed by name and labels."""
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def families(url: str) -> set[str]:
    return {
        f.name
        for f in text_string_to_metric_families(requests.get(f"{url}/metrics", timeout=10).text)
    }


def seed(registry: Process, repo: str, tag: str) -> images.Image:
    img = images.image(repo)
    for blob in img.blobs:
        push_blob(registry.url, repo, blob.data)
    pushed = push_manifest(registry.url, repo, tag, img.manifest.data, images.OCI_MANIFEST)
    assert pushed.status_code == 201, pushed.text
    return img


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("metrics") / "policy.yaml"
    path.write_text(POLICY)
    return path


def test_every_family_after_allowed_refused_and_dry_run_pulls(
    tmp_path: Path, registry: Process, policy: Path
) -> None:
    img = seed(registry, "open/metrics", "1.0")
    seed(registry, "trial/metrics", "latest")
    seed(registry, "secret/metrics", "1.0")
    with running(start_gatekeeper(tmp_path, registry.url, policy)) as gate:
        get = requests.Session()
        for _ in range(2):  # the second pull hits the parsed-manifest cache
            assert get.get(f"{gate.url}/v2/open/metrics/manifests/1.0", headers=ACCEPT).ok
        blob = get.get(f"{gate.url}/v2/open/metrics/blobs/{img.layers[0].digest}")
        assert blob.status_code == 200
        assert get.get(f"{gate.url}/v2/secret/metrics/manifests/1.0").status_code == 403
        dry = get.get(f"{gate.url}/v2/trial/metrics/manifests/latest", headers=ACCEPT)
        assert dry.status_code == 200 and "would deny" in dry.headers["Warning"]
        gate.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while value(samples(gate.url), "gatekeeper_policy_reloads_total", result="ok") < 1:
            assert time.monotonic() < deadline, "the reload was not counted"
            time.sleep(0.05)

        found = samples(gate.url)
        assert families(gate.url) >= FAMILIES
        requests_total = "gatekeeper_requests_total"
        assert value(found, requests_total, kind="manifest", method="GET", status="200") == 3
        assert value(found, requests_total, kind="manifest", method="GET", status="403") == 1
        assert value(found, requests_total, kind="blob", method="GET", status="200") == 1
        decisions = "gatekeeper_decisions_total"
        assert (
            value(found, decisions, action="pull", rule="open", outcome="allow", mode="enforce")
            == 2
        )
        assert (
            value(
                found, decisions, action="read-blob", rule="open", outcome="allow", mode="enforce"
            )
            == 1
        )
        assert (
            value(found, decisions, action="pull", rule="closed", outcome="deny", mode="enforce")
            == 1
        )
        assert (
            value(
                found, decisions, action="pull", rule="trial", outcome="would-deny", mode="dry-run"
            )
            == 1
        )
        reasons = {
            dict(labels)["code"]
            for (name, labels), count in found.items()
            if name == "gatekeeper_decision_reasons_total" and count
        }
        assert {"tag-denied", "repository-denied"} <= reasons, reasons
        assert value(found, "gatekeeper_cache_hits_total", cache="parsed_manifests") >= 1
        assert value(found, "gatekeeper_cache_misses_total", cache="parsed_manifests") >= 2
        upstream = "gatekeeper_upstream_request_duration_seconds_count"
        # Front-door mode: manifests too are read with the client's own credentials.
        assert value(found, upstream, method="GET", purpose="relay") >= 4
        info = [
            dict(labels)
            for (name, labels), v in found.items()
            if name == "gatekeeper_policy_info" and v == 1
        ]
        assert len(info) == 1 and info[0]["fingerprint"].startswith("sha256:")
        assert value(found, "gatekeeper_requests_in_flight") == 1  # this /metrics request
        # No repository, reference or digest ever becomes a label.
        text = requests.get(f"{gate.url}/metrics", timeout=10).text
        assert "open/metrics" not in text
        assert "sha256:" not in text.replace(info[0]["fingerprint"], "")


def test_separate_listener_and_workers_aggregate(
    tmp_path: Path, registry: Process, policy: Path
) -> None:
    """``--workers 2 --redis``: counts add up across workers whichever one answers, and the
    private metrics directory is gone when gatekeeper stops."""
    seed(registry, "open/workers", "1.0")
    redis = RedisServer(free_port(), tmp_path)
    redis.start()
    metrics_port = free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    try:
        gate = start_gatekeeper(
            tmp_path,
            registry.url,
            policy,
            "--workers",
            "2",
            "--redis",
            redis.url,
            "--metrics-listen",
            f"127.0.0.1:{metrics_port}",
            env={"TMPDIR": str(scratch)},
        )
        with running(gate):
            assert next(p.name for p in scratch.iterdir()).startswith("gatekeeper-metrics-")
            pulls = 40
            for _ in range(pulls):  # a new connection each: SO_REUSEPORT spreads them
                got = requests.get(
                    f"{gate.url}/v2/open/workers/manifests/1.0",
                    headers={**ACCEPT, "Connection": "close"},
                    timeout=10,
                )
                assert got.status_code == 200
            refused = requests.get(f"{gate.url}/v2/secret/workers/manifests/1.0", timeout=10)
            assert refused.status_code == 403
            # Not on the main listener when a separate one is given.
            assert requests.get(f"{gate.url}/metrics", timeout=10).status_code == 404
            metrics_url = f"http://127.0.0.1:{metrics_port}"
            seen = set()
            for _ in range(6):  # whichever worker answers, it answers for both
                found = samples(metrics_url)
                seen.add(
                    value(
                        found,
                        "gatekeeper_requests_total",
                        kind="manifest",
                        method="GET",
                        status="200",
                    )
                )
            assert seen == {pulls}
            decisions = value(
                found,
                "gatekeeper_decisions_total",
                action="pull",
                rule="open",
                outcome="allow",
                mode="enforce",
            )
            assert decisions == pulls
            assert families(metrics_url) >= FAMILIES
            # The supervisor's file and one per worker: both workers counted.
            assert len(list(scratch.glob("gatekeeper-metrics-*/counter_*.db"))) == 3
        assert list(scratch.iterdir()) == []
    finally:
        redis.stop()

"""The metric registry: names, bounded labels, and what the hooks count."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from gatekeeper import metrics
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.model import Action, Mode, Outcome

OURS = [value for value in vars(metrics).values() if isinstance(value, Counter | Gauge | Histogram)]
# Unbounded values that must never become labels (a cardinality bomb, and a leak).
FORBIDDEN_LABELS = {"repository", "repo", "name", "reference", "tag", "digest", "client", "path"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("metric", OURS, ids=lambda m: m._name)
def test_names_and_labels_follow_prometheus_conventions(
    metric: Counter | Gauge | Histogram,
) -> None:
    name = metric._name
    assert name.startswith("gatekeeper_")
    assert not name.endswith("_total")  # prometheus_client adds it to counters
    if isinstance(metric, Histogram):
        assert name.endswith("_seconds")  # base units
    assert not set(metric._labelnames) & FORBIDDEN_LABELS
    assert metric._documentation


def test_every_family_is_exported_before_traffic() -> None:
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    exported = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {m._name for m in OURS} <= exported


def test_decisions_count_by_rule_outcome_and_code() -> None:
    refused = Decision(Outcome.DENY, "team", Mode.DRY_RUN, ("r1", "r2"), (), ("tag-denied", "x"))
    before = sample(
        "gatekeeper_decisions_total",
        action="pull",
        rule="team",
        outcome="would-deny",
        mode="dry-run",
    )
    metrics.count_decision(Action.PULL, refused)
    metrics.count_decision(Action.PULL, Decision(Outcome.ALLOW, None, Mode.ENFORCE))
    assert (
        sample(
            "gatekeeper_decisions_total",
            action="pull",
            rule="team",
            outcome="would-deny",
            mode="dry-run",
        )
        == before + 1
    )
    for code in ("tag-denied", "x"):
        assert (
            sample(
                "gatekeeper_decision_reasons_total",
                action="pull",
                rule="team",
                outcome="would-deny",
                code=code,
            )
            >= 1
        )
    assert (
        sample(
            "gatekeeper_decisions_total",
            action="pull",
            rule=metrics.NO_RULE,
            outcome="allow",
            mode="enforce",
        )
        >= 1
    )


def test_caches_are_counted_by_name() -> None:
    from gatekeeper.state.manifests import ParsedManifests

    manifest = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    )
    hits = sample("gatekeeper_cache_hits_total", cache="parsed_manifests")
    misses = sample("gatekeeper_cache_misses_total", cache="parsed_manifests")
    cache = ParsedManifests()
    for _ in range(3):
        cache.parse("sha256:" + "0" * 64, manifest, None)
    assert sample("gatekeeper_cache_hits_total", cache="parsed_manifests") == hits + 2
    assert sample("gatekeeper_cache_misses_total", cache="parsed_manifests") == misses + 1


def test_policy_info_shows_only_the_policy_in_force() -> None:
    metrics.policy_loaded("sha256:a")
    metrics.policy_reloaded(True, "sha256:b")
    metrics.policy_reloaded(False, "sha256:b")
    assert sample("gatekeeper_policy_info", fingerprint="sha256:a") == 0
    assert sample("gatekeeper_policy_info", fingerprint="sha256:b") == 1
    assert sample("gatekeeper_policy_reloads_total", result="failed") >= 1


def test_methods_are_bounded() -> None:
    assert metrics.method_label("GET") == "GET"
    assert metrics.method_label("BREW") == "other"


def test_multiprocess_directory_is_private_shared_and_removed(tmp_path: os.PathLike[str]) -> None:
    """In a fresh interpreter (prometheus_client must not be loaded yet): two processes'
    counts add up, a dead one's live gauge goes, and the directory is removed."""
    script = textwrap.dedent(
        """
        import os, stat
        from gatekeeper.metrics_dir import multiprocess_metrics, worker_exited
        with multiprocess_metrics() as path:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
            from gatekeeper import metrics
            pid = os.fork()
            if pid == 0:
                metrics.REQUESTS_IN_FLIGHT.inc()
                metrics.UPSTREAM_ERRORS.labels("timeout").inc()
                os._exit(0)
            os.waitpid(pid, 0)
            metrics.UPSTREAM_ERRORS.labels("timeout").inc()
            text = metrics.exposition()[0].decode()
            assert 'gatekeeper_upstream_errors_total{kind="timeout"} 2.0' in text, text
            assert "gatekeeper_requests_in_flight 1.0" in text, text
            worker_exited(pid)
            text = metrics.exposition()[0].decode()
            assert "gatekeeper_requests_in_flight 0.0" in text, text
            print(path)
        assert not os.path.exists(path)
        """
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(tmp_path))


def test_grafana_dashboard_uses_only_exported_names() -> None:
    """deploy/grafana/gatekeeper.json names real series, and every family has a panel."""
    import json
    import re
    from pathlib import Path

    dashboard = Path(__file__).resolve().parents[2] / "deploy/grafana/gatekeeper.json"
    exprs = [t["expr"] for p in json.loads(dashboard.read_text())["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"\bgatekeeper_[a-z_]+", e)}
    series = set()
    for m in OURS:
        base = m._name
        if isinstance(m, Counter):
            series.add(base + "_total")
        elif isinstance(m, Histogram):
            series |= {base + "_bucket", base + "_count", base + "_sum"}
        else:
            series.add(base)
    assert used <= series, used - series
    unshown = {m._name for m in OURS if not any(u.startswith(m._name) for u in used)}
    assert unshown == {"gatekeeper_build_info"}  # the dashboard's job variable reads it

"""Admission of pulls and pushes by policy, through real skopeo against a real registry."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers import images
from tests.helpers.processes import Process, start_gatekeeper

POLICY = r"""
mode: enforce
rules:
  - name: team-apps
    repositories: ["team/**"]
    tags:
      deny: ["latest"]
      allow: ['^v?[0-9]+\.[0-9]+\.[0-9]+$']
  - name: pinned
    repositories: ["pinned/*"]
    tags:
      require_digest: true
  - name: frozen
    repositories: ["frozen/*"]
    tags:
      immutable: true
  - name: official
    repositories: ["library/*"]
    tags:
      deny: ["latest"]
  - name: default-deny
    repositories: ["**"]
    action: deny
"""

ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("admission") / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture(scope="module")
def gate(
    tmp_path_factory: pytest.TempPathFactory, registry: Process, policy_file: Path
) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("gate")
    process = start_gatekeeper(
        work, registry.url, policy_file, "--decision-log", str(work / "decisions.jsonl")
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def dry_gate(
    tmp_path_factory: pytest.TempPathFactory, registry: Process, policy_file: Path
) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("dry")
    process = start_gatekeeper(
        work,
        registry.url,
        policy_file,
        "--dry-run",
        "--decision-log",
        str(work / "decisions.jsonl"),
    )
    yield process
    process.stop()


def decisions(process: Process) -> list[dict[str, object]]:
    log = process.log_path.parent / "decisions.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def app_repo(name: str) -> str:
    return f"team/{name}-{time.monotonic_ns() % 10**9}"


def seed(
    tmp_path: Path, registry: Process, repo: str, *tags: str, label: str = "app"
) -> images.Image:
    """Push an image straight to the registry (behind gatekeeper's back) under ``tags``."""
    img = images.image(label + repo)
    layout = images.write_layout(tmp_path / f"seed-{label}", [img], img.manifest, "t")
    for tag in tags:
        images.push_layout(layout, "t", f"{registry.host}/{repo}:{tag}")
    return img


def inspect(process: Process, ref: str) -> subprocess.CompletedProcess[str]:
    return images.skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{process.host}/{ref}", check=False
    )


def test_latest_is_refused_with_the_reason(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = app_repo("app")
    seed(tmp_path, registry, repo, "latest")
    result = inspect(gate, f"{repo}:latest")
    assert result.returncode != 0
    assert "denied: gatekeeper: team-apps: tag 'latest' is not allowed" in result.stderr
    response = requests.get(f"{gate.url}/v2/{repo}/manifests/latest", headers=ACCEPT, timeout=10)
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["code"] == "DENIED"
    assert error["detail"]["rule"] == "team-apps"
    assert error["detail"]["digest"].startswith("sha256:")
    assert any("pin by digest" in hint for hint in error["detail"]["hints"])
    head = requests.head(f"{gate.url}/v2/{repo}/manifests/latest", headers=ACCEPT, timeout=10)
    assert head.status_code == 403


def test_version_tag_and_digest_pass(tmp_path: Path, registry: Process, gate: Process) -> None:
    repo = app_repo("app")
    img = seed(tmp_path, registry, repo, "1.2.3", "latest")
    for ref in (f"{repo}:1.2.3", f"{repo}@{img.digest}"):
        result = inspect(gate, ref)
        assert result.returncode == 0, result.stderr
        assert images.sha256(result.stdout.encode()) == img.digest
    logged = [d for d in decisions(gate) if d["repository"] == repo]
    assert [d["outcome"] for d in logged] == ["allow", "allow"]
    entry = logged[0]
    assert set(entry) >= {
        "schema_version",
        "time",
        "request_id",
        "action",
        "repository",
        "reference",
        "digest",
        "rule",
        "outcome",
        "reasons",
        "mode",
        "duration_ms",
        "client",
        "user_agent",
    }
    assert entry["schema_version"] == 1
    assert entry["action"] == "pull"
    assert entry["reference"] == "1.2.3"
    assert entry["digest"] == img.digest
    assert entry["rule"] == "team-apps"
    assert entry["client"] == "127.0.0.1"
    assert "skopeo" in str(entry["user_agent"]).lower()


def test_push_of_latest_is_refused_and_version_allowed(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = app_repo("push")
    img = images.image("push" + repo)
    refused = images.push_image(tmp_path, img, f"{gate.host}/{repo}:latest", check=False)
    assert refused.returncode != 0
    assert "gatekeeper: team-apps: tag 'latest' is not allowed" in refused.stderr
    assert (
        requests.get(
            f"{registry.url}/v2/{repo}/manifests/latest", headers=ACCEPT, timeout=10
        ).status_code
        == 404
    )
    images.push_image(tmp_path, img, f"{gate.host}/{repo}:2.0.0")
    assert (
        requests.head(
            f"{registry.url}/v2/{repo}/manifests/2.0.0", headers=ACCEPT, timeout=10
        ).status_code
        == 200
    )
    pushes = [d for d in decisions(gate) if d["repository"] == repo and d["action"] == "push"]
    assert [d["outcome"] for d in pushes] == ["deny", "allow"]


def test_blob_of_refused_image_cannot_be_fetched(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = app_repo("blobs")
    img = seed(tmp_path, registry, repo, "latest")
    assert inspect(gate, f"{repo}:latest").returncode != 0
    for blob in img.blobs:
        response = requests.get(f"{gate.url}/v2/{repo}/blobs/{blob.digest}", timeout=10)
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "DENIED"
        # HEAD stays open: pushing clients check for blobs before uploading
        assert (
            requests.head(f"{gate.url}/v2/{repo}/blobs/{blob.digest}", timeout=10).status_code
            == 200
        )


def test_index_admits_children_and_their_blobs(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = app_repo("multi")
    amd, arm = images.image("amd" + repo), images.image("arm" + repo, arch="arm64")
    idx = images.index([amd, arm])
    layout = images.write_layout(tmp_path / "layout", [amd, arm], idx, "m")
    images.push_layout(layout, "m", f"{registry.host}/{repo}:3.0.0", all_images=True)
    layer = amd.layers[0].digest
    assert requests.get(f"{gate.url}/v2/{repo}/blobs/{layer}", timeout=10).status_code == 403
    dest = tmp_path / "pulled"
    images.skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--preserve-digests",
        f"docker://{gate.host}/{repo}:3.0.0",
        f"oci:{dest}:x",
    )
    assert (dest / "blobs/sha256" / layer[7:]).exists()
    assert requests.get(f"{gate.url}/v2/{repo}/blobs/{layer}", timeout=10).status_code == 200


def test_require_digest_and_unmatched_repositories(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    img = seed(tmp_path, registry, "pinned/tool", "1.0.0")
    by_tag = inspect(gate, "pinned/tool:1.0.0")
    assert "pull by tag is not allowed; pin by digest" in by_tag.stderr
    assert inspect(gate, f"pinned/tool@{img.digest}").returncode == 0
    seed(tmp_path, registry, "other/thing", "1.0.0", label="other")
    refused = inspect(gate, "other/thing:1.0.0")
    assert "gatekeeper: default-deny: repository other/thing is denied" in refused.stderr


def test_immutable_tags_cannot_move(tmp_path: Path, gate: Process) -> None:
    first, second = images.image("frozen-1"), images.image("frozen-2")
    images.push_image(tmp_path, first, f"{gate.host}/frozen/app:1.0.0")
    images.push_image(tmp_path, first, f"{gate.host}/frozen/app:1.0.0")  # same digest: fine
    moved = images.push_image(tmp_path, second, f"{gate.host}/frozen/app:1.0.0", check=False)
    assert moved.returncode != 0
    assert f"tag '1.0.0' is immutable: it already points to {first.digest}" in moved.stderr


def test_dry_run_warns_logs_and_lets_through(
    tmp_path: Path, registry: Process, dry_gate: Process
) -> None:
    repo = app_repo("dry")
    img = seed(tmp_path, registry, repo, "latest")
    result = inspect(dry_gate, f"{repo}:latest")
    assert result.returncode == 0, result.stderr
    response = requests.get(
        f"{dry_gate.url}/v2/{repo}/manifests/latest",
        headers={"Accept": images.OCI_MANIFEST},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Warning"].startswith(
        "299 - \"gatekeeper: would deny: team-apps: tag 'latest' is not allowed"
    )
    # dry-run never blocks, blobs included
    blob = requests.get(f"{dry_gate.url}/v2/{repo}/blobs/{img.layers[0].digest}", timeout=10)
    assert blob.status_code == 200
    pushed = images.push_image(
        tmp_path, images.image("dry-push" + repo), f"{dry_gate.host}/{repo}:latest"
    )
    assert pushed.returncode == 0
    logged = [d for d in decisions(dry_gate) if d["repository"] == repo]
    assert {d["outcome"] for d in logged} == {"would-deny"}
    assert {d["mode"] for d in logged} == {"dry-run"}
    # The blob of the would-deny image is a would-deny too: dry-run logs what enforce refuses.
    assert {d["action"] for d in logged} == {"pull", "push", "read-blob"}
    assert all(d["codes"] for d in logged)


def test_evaluate_exit_codes(tmp_path: Path, registry: Process, policy_file: Path) -> None:
    repo = app_repo("eval")
    img = seed(tmp_path, registry, repo, "1.0.0", "latest")

    def evaluate(ref: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "gatekeeper",
                "evaluate",
                ref,
                "--upstream",
                registry.url,
                "--policy",
                str(policy_file),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    allowed = evaluate(f"{repo}:1.0.0")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith(f"ALLOW {repo}:1.0.0")
    denied = evaluate(f"{repo}:latest", "--json")
    assert denied.returncode == 1
    verdict = json.loads(denied.stdout)
    assert verdict["outcome"] == "deny"
    assert verdict["digest"] == img.digest
    assert verdict["rule"] == "team-apps"
    missing = evaluate(f"{repo}:9.9.9")
    assert missing.returncode == 2
    assert "not found" in missing.stderr
    assert evaluate("BAD NAME:1").returncode == 2


def test_policy_hot_reload(tmp_path: Path, registry: Process) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('rules: [{name: strict, repositories: ["**"], tags: {deny: [latest]}}]\n')
    gate = start_gatekeeper(tmp_path, registry.url, policy)
    try:
        seed(tmp_path, registry, "reload/app", "latest")
        assert inspect(gate, "reload/app:latest").returncode != 0
        policy.write_text("rules: [{name: strict, repositories: [\n")  # invalid
        time.sleep(3)
        assert "policy reload refused" in gate.log()
        assert inspect(gate, "reload/app:latest").returncode != 0  # old policy in force
        policy.write_text('rules: [{name: open, repositories: ["**"]}]\n')
        deadline = time.monotonic() + 10
        while inspect(gate, "reload/app:latest").returncode != 0:
            assert time.monotonic() < deadline, "new policy not loaded"
            time.sleep(0.5)
    finally:
        gate.stop()


def test_reload_under_load_drops_no_request(tmp_path: Path, registry: Process) -> None:
    import signal
    import threading

    policy = tmp_path / "policy.yaml"
    policy.write_text('rules: [{name: open, repositories: ["**"], tags: {deny: [latest]}}]\n')
    seed(tmp_path, registry, "reload/busy", "1.0.0", label="busy")
    gate = start_gatekeeper(tmp_path, registry.url, policy)
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        session = requests.Session()
        while not stop.is_set():
            response = session.get(
                f"{gate.url}/v2/reload/busy/manifests/1.0.0", headers=ACCEPT, timeout=10
            )
            statuses.append(response.status_code)

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        for i in range(5):
            time.sleep(0.2)
            policy.write_text(
                f'rules: [{{name: open, repositories: ["**"], tags: {{deny: [latest, "x{i}"]}}}}]\n'
            )
            gate.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
        gate.stop()
    assert len(statuses) > 20
    assert set(statuses) == {200}
    assert "policy reloaded" in gate.log()


def test_a_denied_repository_is_closed_to_every_request(
    tmp_path: Path, registry: Process, gate: Process, dry_gate: Process
) -> None:
    img = seed(tmp_path, registry, "closed/thing", "1.0.0", label="closed")
    for method, path in (
        ("GET", "/v2/closed/thing/tags/list"),
        ("GET", f"/v2/closed/thing/blobs/{img.config.digest}"),
        ("HEAD", f"/v2/closed/thing/blobs/{img.config.digest}"),
        ("POST", "/v2/closed/thing/blobs/uploads/"),
        ("DELETE", f"/v2/closed/thing/manifests/{img.digest}"),
    ):
        response = requests.request(method, gate.url + path, timeout=10)
        assert response.status_code == 403, (method, path)
        if method != "HEAD":
            message = response.json()["errors"][0]["message"]
            assert message.startswith(
                "gatekeeper: default-deny: repository closed/thing is denied by rule 'default-deny'"
            )
    # dry-run never blocks
    listed = requests.get(f"{dry_gate.url}/v2/closed/thing/tags/list", timeout=10)
    assert listed.status_code == 200
    assert listed.json()["tags"] == ["1.0.0"]

"""gatekeeper's own upstream credentials from a Docker credential helper (a real
``docker-credential-test`` on PATH, speaking the helper protocol), asked again when the
upstream refuses them, and from a config.json re-read when it changes."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import requests

from tests.helpers import images
from tests.helpers.processes import Process, start_gatekeeper, start_registry, wait_http
from tests.helpers.token_server import start_token_server

ACCEPT = {"Accept": images.OCI_MANIFEST}
POLICY = 'rules: [{name: all, repositories: ["**"]}]\n'

HELPER = """#!/bin/sh
# docker-credential-test: the registry host arrives on stdin; the answer is a file the test
# rewrites (as a cloud helper would hand out a new token).
[ "$1" = get ] || exit 3
read server
echo "$server" >> "{calls}"
cat "{answer}"
"""


def htpasswd(path: Path, user: str, password: str) -> None:
    line = subprocess.run(
        ["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True
    ).stdout.strip()
    path.write_text(line + "\n")


def protected_registry(work: Path, password: str) -> Process:
    work.mkdir(parents=True, exist_ok=True)
    htpasswd(work / "htpasswd", "alice", password)
    extra = f"auth:\n  htpasswd:\n    realm: test\n    path: {work / 'htpasswd'}\n"
    return start_registry(work, extra)


def seed(tmp_path: Path, registry: Process, password: str) -> images.Image:
    img = images.image("cred-helper")
    layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
    images.skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"--dest-creds=alice:{password}",
        f"oci:{layout}:t",
        f"docker://{registry.host}/library/app:1.0.0",
    )
    return img


def pull(gate: Process) -> requests.Response:
    return requests.get(f"{gate.url}/v2/library/app/manifests/1.0.0", headers=ACCEPT, timeout=30)


def test_credential_helper_is_run_and_asked_again_after_a_refusal(tmp_path: Path) -> None:
    registry = protected_registry(tmp_path / "reg", "first-pass")
    img = seed(tmp_path, registry, "first-pass")
    calls, answer = tmp_path / "calls.log", tmp_path / "answer.json"
    bin_dir = _helper(tmp_path, calls, answer)
    answer.write_text(json.dumps({"Username": "alice", "Secret": "first-pass"}))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {registry.host: "test"}}))
    gate = start_gatekeeper(
        tmp_path / "gate",
        f"docker.io={registry.url}",
        _policy(tmp_path),
        "--mirror",
        "--upstream-credentials",
        str(config),
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    try:
        for _ in range(3):
            response = pull(gate)
            assert response.status_code == 200, response.text
            assert response.headers["Docker-Content-Digest"] == img.digest
        assert calls.read_text().split() == [registry.host]  # once, kept since
        # The credential rotates: the registry takes only the new password, the helper
        # hands it out; gatekeeper's next request is refused, asks the helper, succeeds.
        time.sleep(2.5)  # older than the renewal floor (a refusal storm asks once)
        registry.stop()
        htpasswd(tmp_path / "reg" / "htpasswd", "alice", "second-pass")
        answer.write_text(json.dumps({"Username": "alice", "Secret": "second-pass"}))
        registry = _restart(registry, tmp_path / "reg")
        response = pull(gate)
        assert response.status_code == 200, response.text
        assert calls.read_text().split() == [registry.host] * 2
        log = gate.log()
        assert "first-pass" not in log and "second-pass" not in log
    finally:
        gate.stop()
        registry.stop()


def test_credentials_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    registry = protected_registry(tmp_path / "reg", "right-pass")
    img = seed(tmp_path, registry, "right-pass")
    config = tmp_path / "config.json"
    _write_auth(config, registry, "wrong-pass")
    gate = start_gatekeeper(
        tmp_path / "gate",
        f"docker.io={registry.url}",
        _policy(tmp_path),
        "--mirror",
        "--upstream-credentials",
        str(config),
    )
    try:
        assert pull(gate).status_code != 200
        _write_auth(config, registry, "right-pass")
        deadline = time.monotonic() + 20
        while (response := pull(gate)).status_code != 200:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.5)
        assert response.headers["Docker-Content-Digest"] == img.digest
        assert "upstream credentials reloaded" in gate.log()
        config.write_text("{not json")
        time.sleep(3)  # past one poll: refused, the credentials in force stay
        assert pull(gate).status_code == 200
        assert "upstream credentials reload refused" in gate.log()
        assert "right-pass" not in gate.log()
    finally:
        gate.stop()
        registry.stop()


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _write_auth(config: Path, registry: Process, password: str) -> None:
    auth = base64.b64encode(f"alice:{password}".encode()).decode()
    config.write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))


def _restart(registry: Process, work: Path) -> Process:
    """The same registry (config, storage, port) started again."""
    with registry.log_path.open("ab") as log:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(work / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    restarted = Process(proc, registry.url, registry.log_path)
    wait_http(f"{registry.url}/v2/", proc)
    return restarted


def test_token_endpoint_refusal_asks_the_helper_again(tmp_path: Path) -> None:
    """Bearer auth: the token endpoint refuses the old password (401); gatekeeper asks the
    helper again and gets its token with the new one."""
    with start_token_server(
        tmp_path / "token", users={"bot": "first-pass"}, expires_in=11
    ) as tokens:
        registry = start_registry(tmp_path / "reg", tokens.registry_auth_config())
        try:
            img = images.image("cred-helper-token")
            layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
            images.skopeo(
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds=bot:first-pass",
                f"oci:{layout}:t",
                f"docker://{registry.host}/library/app:1.0.0",
            )
            calls, answer = tmp_path / "calls.log", tmp_path / "answer.json"
            bin_dir = _helper(tmp_path, calls, answer)
            answer.write_text(json.dumps({"Username": "bot", "Secret": "first-pass"}))
            config = tmp_path / "config.json"
            config.write_text(json.dumps({"credsStore": "test"}))
            gate = start_gatekeeper(
                tmp_path / "gate",
                f"docker.io={registry.url}",
                _policy(tmp_path),
                "--mirror",
                "--upstream-credentials",
                str(config),
                env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
            )
            try:
                assert pull(gate).status_code == 200
                tokens.users["bot"] = "second-pass"  # type: ignore[index]  # live dict
                answer.write_text(json.dumps({"Username": "bot", "Secret": "second-pass"}))
                time.sleep(2.5)  # gatekeeper's token (11 s, renewed 10 s early) is stale now
                response = pull(gate)
                assert response.status_code == 200, response.text
                assert response.headers["Docker-Content-Digest"] == img.digest
                assert calls.read_text().split() == [registry.host] * 2
                refused = [r for r in tokens.requests if r.status == 401]
                assert len(refused) == 1  # the old password, once
            finally:
                gate.stop()
        finally:
            registry.stop()


def _helper(tmp_path: Path, calls: Path, answer: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker-credential-test"
    script.write_text(HELPER.replace("{calls}", str(calls)).replace("{answer}", str(answer)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir

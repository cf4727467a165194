"""Admission state shared through Redis: replicas and --workers honour each other's records."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.helpers import images
from tests.helpers.processes import Process, free_port, start_gatekeeper
from tests.helpers.redis_server import RedisServer

ACCEPT = {"Accept": images.OCI_MANIFEST}
# A tag rule, so blob reads are gated (a rule that admits everything needs no gate).
POLICY = 'rules: [{name: versions, repositories: ["**"], tags: {deny: [latest]}}]\n'


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def pull_manifest(gate: Process, repo: str) -> None:
    response = requests.get(f"{gate.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT, timeout=10)
    assert response.status_code == 200, response.text


def blob_status(gate: Process, repo: str, digest: str) -> int:
    return requests.get(f"{gate.url}/v2/{repo}/blobs/{digest}", timeout=10).status_code


def test_replicas_share_admissions_through_redis(
    tmp_path: Path, registry: Process, redis: RedisServer
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    img = images.image("shared-state")
    images.push_image(tmp_path, img, f"{registry.host}/shared/app:1.0.0")
    layer = img.layers[0].digest
    lonely = start_gatekeeper(tmp_path / "lonely", registry.url, policy)
    first = start_gatekeeper(tmp_path / "a", registry.url, policy, "--redis", redis.url)
    second = start_gatekeeper(tmp_path / "b", registry.url, policy, "--redis", redis.url)
    try:
        pull_manifest(first, "shared/app")
        assert blob_status(first, "shared/app", layer) == 200
        assert blob_status(second, "shared/app", layer) == 200  # admitted by its peer
        assert blob_status(lonely, "shared/app", layer) == 403  # shares nothing
        redis.stop()
        # Redis gone: each process honours only what it admitted itself (fail closed).
        assert blob_status(first, "shared/app", img.config.digest) == 200
        other = images.image("shared-state-2")
        images.push_image(tmp_path, other, f"{registry.host}/shared/other:1.0.0")
        pull_manifest(first, "shared/other")
        assert blob_status(second, "shared/other", other.layers[0].digest) == 403
        assert "Traceback" not in first.log() + second.log()
    finally:
        for process in (lonely, first, second):
            process.stop()


def test_workers_share_one_port(tmp_path: Path, registry: Process, redis: RedisServer) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    img = images.image("workers")
    images.push_image(tmp_path, img, f"{registry.host}/workers/app:1.0.0")
    gate = start_gatekeeper(tmp_path, registry.url, policy, "--workers", "2", "--redis", redis.url)
    try:
        deadline = time.monotonic() + 10
        while len(psutil.Process(gate.proc.pid).children()) < 2:
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.1)
        # Fresh connections spread over both workers; every blob read must still pass.
        for _ in range(20):
            pull_manifest(gate, "workers/app")
            for blob in img.blobs:
                assert blob_status(gate, "workers/app", blob.digest) == 200
        dest = tmp_path / "pulled"
        images.skopeo(
            "copy",
            "--src-tls-verify=false",
            f"docker://{gate.host}/workers/app:1.0.0",
            f"oci:{dest}:x",
        )
    finally:
        gate.stop()
    assert gate.proc.returncode == 0
    assert "Traceback" not in gate.log()


def test_workers_without_redis_is_a_configuration_error(tmp_path: Path, registry: Process) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    with pytest.raises(RuntimeError, match="--workers > 1 needs --redis"):
        start_gatekeeper(tmp_path, registry.url, policy, "--workers", "2")

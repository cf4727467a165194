"""Notation through the other deployment modes: pull-through mirror (--mirror) and two
worker processes sharing admissions through Redis (--workers 2 --redis)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.helpers import images
from tests.helpers import notation_sign as ns
from tests.helpers.processes import Process, free_port, start_gatekeeper
from tests.helpers.redis_server import RedisServer
from tests.helpers.registry_push import push_blob, push_manifest

CA = ns.make_ca()
SIGNER = ns.make_signer(CA)
ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}
IDENTITY = "'x509.subject: C=US, ST=WA, O=Acme, CN=release'"


def _policy(work: Path, repositories: str) -> Path:
    ns.write_pem(work / "ca.pem", CA.chain[0])
    policy = work / "policy.yaml"
    policy.write_text(
        "rules:\n"
        f"  - name: notation\n    repositories: ['{repositories}']\n"
        f"    signatures: {{notation: {{trust_store: ca.pem, trusted_identities: [{IDENTITY}]}}}}\n"
        "  - {name: default-deny, repositories: ['**'], action: deny}\n"
    )
    return policy


def _push_image(registry: Process, repo: str, label: str, tag: str) -> images.Image:
    img = images.image(label)
    for blob in img.blobs:
        push_blob(registry.url, repo, blob.data)
    push_manifest(registry.url, repo, tag, img.manifest.data, images.OCI_MANIFEST)
    return img


def _sign(registry: Process, repo: str, manifest: bytes, media_type: str, kind: str) -> None:
    envelope = ns.sign(SIGNER, ns.descriptor(manifest, media_type), envelope=kind)
    ns.push_notation_signature(
        registry.url, repo, ns.descriptor(manifest, media_type), envelope, kind, SIGNER
    )


def _signed_index(registry: Process, repo: str, label: str) -> tuple[list[images.Image], str]:
    children = [images.image(f"{label}-amd64"), images.image(f"{label}-arm64", arch="arm64")]
    for child in children:
        for blob in child.blobs:
            push_blob(registry.url, repo, blob.data)
        push_manifest(registry.url, repo, child.digest, child.manifest.data, images.OCI_MANIFEST)
    top = images.index(children)
    push_manifest(registry.url, repo, "1.0.0", top.data, images.OCI_INDEX).raise_for_status()
    _sign(registry, repo, top.data, images.OCI_INDEX, ns.COSE)
    return children, images.sha256(top.data)


def _get(gate: Process, path: str) -> requests.Response:
    # a fresh connection per request: with --workers 2 they land on either process
    return requests.get(f"{gate.url}{path}", headers=ACCEPT, timeout=30)


def _check_signed_unsigned_and_index(
    registry: Process, gate: Process, repo_prefix: str, gate_prefix: str, query: str = ""
) -> None:
    signed = _push_image(registry, f"{repo_prefix}signed", "modes-signed", "1.0.0")
    _sign(registry, f"{repo_prefix}signed", signed.manifest.data, images.OCI_MANIFEST, ns.JWS)
    ok = _get(gate, f"/v2/{gate_prefix}signed/manifests/1.0.0{query}")
    assert ok.status_code == 200, ok.text
    assert ok.headers["Docker-Content-Digest"] == signed.digest
    layer = _get(gate, f"/v2/{gate_prefix}signed/blobs/{signed.layers[0].digest}{query}")
    assert layer.status_code == 200

    _push_image(registry, f"{repo_prefix}unsigned", "modes-unsigned", "1.0.0")
    refused = _get(gate, f"/v2/{gate_prefix}unsigned/manifests/1.0.0{query}")
    assert refused.status_code == 403
    assert "no signature found" in refused.text

    children, _ = _signed_index(registry, f"{repo_prefix}multi", "modes-multi")
    assert _get(gate, f"/v2/{gate_prefix}multi/manifests/1.0.0{query}").status_code == 200
    for _ in range(4):
        for child in children:
            got = _get(gate, f"/v2/{gate_prefix}multi/manifests/{child.digest}{query}")
            assert got.status_code == 200, got.text
            for blob in child.blobs:
                status = _get(gate, f"/v2/{gate_prefix}multi/blobs/{blob.digest}{query}")
                assert status.status_code == 200, (blob.digest, status.text)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("notation-mirror")
    policy = _policy(work, "library/nv-*")
    process = start_gatekeeper(work, f"docker.io={registry.url}", policy, "--mirror")
    yield process
    process.stop()


def test_notation_in_mirror_mode(registry: Process, mirror: Process) -> None:
    """dockerd-style names (library/…) and containerd's ?ns=docker.io."""
    _check_signed_unsigned_and_index(registry, mirror, "library/nv-", "library/nv-")
    again = _get(mirror, "/v2/library/nv-signed/manifests/1.0.0?ns=docker.io")
    assert again.status_code == 200
    assert "Traceback" not in mirror.log()


def test_notation_with_two_workers_and_redis(tmp_path: Path, registry: Process) -> None:
    redis = RedisServer(free_port(), tmp_path)
    redis.start()
    policy = _policy(tmp_path, "nvw/**")
    gate = start_gatekeeper(tmp_path, registry.url, policy, "--workers", "2", "--redis", redis.url)
    try:
        deadline = time.monotonic() + 10
        while len(psutil.Process(gate.proc.pid).children()) < 2:
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.1)
        _check_signed_unsigned_and_index(registry, gate, "nvw/", "nvw/")
    finally:
        gate.stop()
        redis.stop()
    assert "Traceback" not in gate.log()

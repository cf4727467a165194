"""Admission flooding (issue 10, finding 5): crafted manifests pulled through gatekeeper
cannot evict another client's admission records, in memory or in Redis.

The flood manifests are what an attacker with push and pull access to other gated
repositories can make cheaply: many non-distributable layers (a registry that allows foreign
layer URLs, as Docker Hub does, does not ask for their blobs), each digest distinct, so every
pull writes as many records as the manifest lists.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gatekeeper.state.admissions import SharedAdmissionStore
from gatekeeper.state.shared_redis import SharedRedis
from tests.helpers import images
from tests.helpers.processes import (
    Process,
    free_port,
    running,
    start_gatekeeper,
    start_registry,
)
from tests.helpers.redis_server import RedisServer
from tests.helpers.registry_push import push_blob, push_manifest

# Blob reads are gated everywhere (a tag rule); the flood repositories pass it like the victim.
POLICY = 'rules: [{name: versions, repositories: ["**"], tags: {deny: [latest]}}]\n'
# ... or the flood comes from repositories that admit everything (their pulls record nothing).
OPEN_FLOOD = """\
rules:
  - {name: open, repositories: ["flood-*/**"]}
  - {name: versions, repositories: ["**"], tags: {deny: [latest]}}
"""
FOREIGN = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
REFS = 500
LIMITS = (
    "--admission-entries",
    str(4 * REFS),
    "--admission-repository-entries",
    str(REFS),
    "--manifest-refs",
    str(REFS),
)


FOREIGN_URLS_ALLOWED = 'validation:\n  manifests:\n    urls:\n      allow: ["^https://"]\n'


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with running(start_registry(tmp_path_factory.mktemp("reg"), FOREIGN_URLS_ALLOWED)) as reg:
        yield reg


def crafted(registry: Process, repo: str, tag: str, config: images.Blob) -> None:
    """An image manifest listing ``REFS`` fresh foreign layers, pushed straight upstream."""
    layers = [
        {
            "mediaType": FOREIGN,
            "digest": f"sha256:{os.urandom(32).hex()}",
            "size": 1,
            "urls": ["https://layers.example/x"],
        }
        for _ in range(REFS)
    ]
    doc = {
        "schemaVersion": 2,
        "mediaType": images.OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": layers,
    }
    push_blob(registry.url, repo, config.data)
    pushed = push_manifest(registry.url, repo, tag, json.dumps(doc).encode(), images.OCI_MANIFEST)
    assert pushed.status_code == 201, pushed.text


def pull(gate: Process, repo: str, tag: str) -> None:
    response = requests.get(
        f"{gate.url}/v2/{repo}/manifests/{tag}",
        headers={"Accept": images.OCI_MANIFEST},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def blob_status(gate: Process, repo: str, digest: str) -> int:
    return requests.get(f"{gate.url}/v2/{repo}/blobs/{digest}", timeout=10).status_code


@pytest.mark.parametrize("spread", ["one-repository", "many-repositories", "permissive"])
def test_a_flood_of_crafted_manifests_leaves_a_victims_admission_open(
    tmp_path: Path, registry: Process, spread: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(OPEN_FLOOD if spread == "permissive" else POLICY)
    run = uuid.uuid4().hex[:8]
    victim = images.image(f"victim-{run}")
    images.push_image(tmp_path, victim, f"{registry.host}/victim-{run}/app:1.0.0")
    config = images.Blob(images.OCI_CONFIG, b'{"architecture":"amd64","os":"linux"}')
    # 12 manifests x REFS records: 3x the whole store, 12x one repository's share.
    targets = [
        (f"flood-{run}/{i if spread != 'one-repository' else 0}", f"1.0.{i}") for i in range(12)
    ]
    for repo, tag in targets:
        crafted(registry, repo, tag, config)
    with running(start_gatekeeper(tmp_path, registry.url, policy, *LIMITS)) as gate:
        pull(gate, f"victim-{run}/app", "1.0.0")
        for repo, tag in targets:
            pull(gate, repo, tag)
        for blob in victim.blobs:
            assert blob_status(gate, f"victim-{run}/app", blob.digest) == 200
        # The flood's own latest admission is honoured too (its config blob is real).
        assert blob_status(gate, targets[-1][0], config.digest) == 200
        assert "Traceback" not in gate.log()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


async def test_redis_keeps_each_repository_within_its_share_and_expiring(
    redis: RedisServer,
) -> None:
    shared = SharedRedis(redis.url)
    try:
        writer = SharedAdmissionStore(shared, ttl=60, max_entries=40, repository_entries=10)
        reader = SharedAdmissionStore(shared, ttl=60, max_entries=40, repository_entries=10)
        await writer.open_blobs("victim", ["sha256:v1", "sha256:v2"], "fp")
        for i in range(20):
            await writer.open_blobs("flood", [f"sha256:f{i}-{j}" for j in range(4)], "fp")
        # a peer (reader) sees the records only through Redis
        assert await reader.blob_opened("victim", "sha256:v2", "fp")
        assert await reader.blob_opened("flood", "sha256:f19-3", "fp")
        assert not await reader.blob_opened("flood", "sha256:f0-0", "fp")
        assert not await reader.blob_opened("victim", "sha256:v2", "other-policy")

        async def sizes() -> list[tuple[str, int, int]]:
            async def read(r):  # type: ignore[no-untyped-def]
                found = []
                async for key in r.scan_iter("gatekeeper:admitted:*"):
                    kind = await r.type(key)
                    size = await (r.zcard(key) if kind == b"zset" else r.hlen(key))
                    found.append((key.decode(), size, await r.pttl(key)))
                return sorted(found)

            return await shared.run(read)  # type: ignore[no-any-return]

        held = await sizes()
        assert len(held) == 4  # order + records, for two repositories
        for key, size, ttl in held:
            assert 0 < ttl <= 60_000, key
            # whole admissions of 4 go: at most the cap, at least cap - 3
            assert size == 2 if ":victim:" in key else 7 <= size <= 10, (key, size)
    finally:
        await shared.close()


async def test_redis_records_expire_by_the_wall_clock(redis: RedisServer) -> None:
    now = [1_000_000.0]
    shared = SharedRedis(redis.url)
    try:
        writer = SharedAdmissionStore(shared, 30, 40, 10, wall_clock=lambda: now[0])
        reader = SharedAdmissionStore(shared, 30, 40, 10, wall_clock=lambda: now[0])
        await writer.open_children("idx", "sha256:index", ["sha256:child"], "fp")
        assert await reader.parent_of("idx", "sha256:child", "fp") == "sha256:index"
        now[0] += 31
        assert await reader.parent_of("idx", "sha256:child", "fp") is None
    finally:
        await shared.close()


async def test_a_warm_admission_is_written_to_redis_once_per_quarter_ttl(
    redis: RedisServer,
) -> None:
    shared = SharedRedis(redis.url)
    try:
        writer = SharedAdmissionStore(shared, ttl=0.4, max_entries=40, repository_entries=10)
        reader = SharedAdmissionStore(shared, ttl=0.4, max_entries=40, repository_entries=10)

        async def commands() -> int:
            info = await shared.run(lambda r: r.info("stats"))
            return int(info["total_commands_processed"])

        await writer.open_blobs("warm", ["sha256:a", "sha256:b"], "fp")
        before = await commands()
        for _ in range(20):  # the same image pulled again and again
            await writer.open_blobs("warm", ["sha256:a", "sha256:b"], "fp")
        assert await commands() - before <= 2  # the INFO call itself, not 20 writes
        await asyncio.sleep(0.15)  # past a quarter of the TTL: written (and extended) again
        await writer.open_blobs("warm", ["sha256:a", "sha256:b"], "fp")
        await asyncio.sleep(0.3)  # the first write alone would have expired by now
        assert await reader.blob_opened("warm", "sha256:a", "fp")
    finally:
        await shared.close()

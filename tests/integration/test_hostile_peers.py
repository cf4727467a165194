"""Slow, hostile and failing peers: each gets a clean OCI error or an aborted stream, other
clients keep being served, and tasks, FDs and upstream connections return to baseline.

gatekeeper runs in the test's event loop (tests/helpers/inproc_gate.py) against a
fault-injecting upstream (tests/helpers/faulty_registry.py): a fake upstream is right here,
because misbehaviour is the point.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from gatekeeper.server.run import Serving
from tests.helpers.faulty_registry import FaultUpstream
from tests.helpers.inproc_gate import FAST, Counts, back_to, counts, gate

RSS_SLACK = 48 * 1024 * 1024


@pytest.fixture
async def upstream() -> AsyncIterator[FaultUpstream]:
    server = await FaultUpstream().start()
    yield server
    await server.stop()


@pytest.fixture
async def served(
    upstream: FaultUpstream, permissive_policy: Path, tmp_path: Path
) -> AsyncIterator[Serving]:
    async with gate(upstream.url, permissive_policy, tmp_path) as server:
        yield server


async def pull_ok(server: Serving, upstream: FaultUpstream) -> None:
    """An ordinary client is served: manifest and a blob."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/v2/good/app/manifests/latest") as response:
            assert response.status == 200, await response.text()
            assert await response.read() == upstream.manifest
        async with session.get(f"{server.url}/v2/good/app/blobs/{upstream.layer.digest}") as r:
            assert r.status == 200
            assert await r.read() == upstream.layer.data


async def oci_error(response: aiohttp.ClientResponse) -> str:
    doc = json.loads(await response.read())
    return str(doc["errors"][0]["code"])


async def settled(baseline: Counts, upstream: FaultUpstream) -> None:
    now = await back_to(baseline, upstream.port)
    assert now.tasks <= baseline.tasks, (baseline, now)
    assert now.fds <= baseline.fds, (baseline, now)
    assert now.upstream_connections <= baseline.upstream_connections, (baseline, now)
    assert now.rss - baseline.rss < RSS_SLACK, (baseline, now)


async def test_hung_upstream_answers_504_in_time_and_others_are_served(
    served: Serving, upstream: FaultUpstream
) -> None:
    baseline = counts(upstream.port)
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        hung = [
            asyncio.ensure_future(session.get(f"{served.url}/v2/hang/app/manifests/latest"))
            for _ in range(20)
        ]
        await asyncio.sleep(0.1)
        await pull_ok(served, upstream)  # not starved by the hanging repository
        for pending in hung:
            response = await pending
            assert response.status == 504
            assert response.headers["Retry-After"]
            assert await oci_error(response) == "UNAVAILABLE"
        # header timeout 1 s, allowing for loop scheduling on a loaded machine
        assert time.monotonic() - started < FAST.upstream_header_timeout + 1.5
        blob = await session.get(f"{served.url}/v2/hang/app/blobs/sha256:{'a' * 64}")
        assert blob.status == 504
    await settled(baseline, upstream)


async def test_trickling_upstream_times_out_and_is_released_with_its_client(
    served: Serving, upstream: FaultUpstream
) -> None:
    baseline = counts(upstream.port)
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        response = await session.get(f"{served.url}/v2/trickle/app/manifests/latest")
        assert response.status == 504  # bytes keep coming, but the total time is bounded
        assert time.monotonic() - started < FAST.upstream_total_timeout + 1.5
        # A blob stream has no total limit; its client leaving ends the upstream request.
        blob = await session.get(f"{served.url}/v2/trickle/app/blobs/sha256:{'b' * 64}")
        assert blob.status == 200
        await blob.content.read(1)
        blob.close()
    await pull_ok(served, upstream)
    await settled(baseline, upstream)


async def test_upstream_reset_mid_blob_aborts_the_client_stream(
    served: Serving, upstream: FaultUpstream
) -> None:
    baseline = counts(upstream.port)
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{served.url}/v2/reset/app/blobs/{upstream.big.digest}")
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()  # never framed as complete
    await pull_ok(served, upstream)
    await settled(baseline, upstream)


async def test_oversized_upstream_header_is_a_502_with_an_oci_body(
    served: Serving, upstream: FaultUpstream
) -> None:
    baseline = counts(upstream.port)
    async with aiohttp.ClientSession() as session:
        for path in ("manifests/latest", f"blobs/{upstream.layer.digest}", "tags/list"):
            response = await session.get(f"{served.url}/v2/bigheader/app/{path}")
            assert response.status == 502, path
            assert await oci_error(response) == "UNAVAILABLE"
    await pull_ok(served, upstream)
    await settled(baseline, upstream)


async def test_endless_bodies_are_bounded(served: Serving, upstream: FaultUpstream) -> None:
    baseline = counts(upstream.port)
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{served.url}/v2/endless/app/manifests/latest")
        assert response.status == 413
        assert await oci_error(response) == "SIZE_INVALID"
        blob = await session.get(f"{served.url}/v2/endless/app/blobs/sha256:{'c' * 64}")
        assert blob.status == 200
        await blob.content.readexactly(1024 * 1024)
        blob.close()  # the client leaves: the endless upstream body stops with it
    await pull_ok(served, upstream)
    await settled(baseline, upstream)


async def test_a_5xx_storm_is_relayed_and_others_are_served(
    served: Serving, upstream: FaultUpstream
) -> None:
    baseline = counts(upstream.port)
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> int:
            kind = "manifests/latest" if i % 2 else f"blobs/{upstream.layer.digest}"
            async with session.get(f"{served.url}/v2/storm/app/{kind}") as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(one(i) for i in range(200)))
        assert set(statuses) == {503}
    await pull_ok(served, upstream)
    await settled(baseline, upstream)


def _stalled_reader(url: str, path: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


async def test_slow_readers_are_cut_off_and_memory_returns(
    served: Serving, upstream: FaultUpstream
) -> None:
    baseline = counts(upstream.port)
    path = f"/v2/good/big/blobs/{upstream.big.digest}"
    readers = [_stalled_reader(served.url, path) for _ in range(40)]
    try:
        await asyncio.sleep(0.3)
        held = counts(upstream.port)
        assert held.upstream_connections >= 1
        await pull_ok(served, upstream)  # blob streams do not starve an ordinary pull
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{served.url}/v2/good/big/manifests/latest") as response,
        ):
            assert response.status == 200  # nor their own repository's manifests
        await asyncio.sleep(FAST.client_write_timeout + 1.0)
        # every stalled stream was aborted: the kernel reports the reset to the reader
        for sock in readers:
            sock.setblocking(False)
            with pytest.raises((ConnectionResetError, BlockingIOError, OSError)):
                while sock.recv(1 << 20):
                    pass
                raise ConnectionResetError  # orderly EOF also means gatekeeper let go
    finally:
        for sock in readers:
            sock.close()
    await settled(baseline, upstream)


async def test_slowloris_connections_are_closed_after_the_header_timeout(
    served: Serving, upstream: FaultUpstream
) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    pairs = [await asyncio.open_connection(host, int(port)) for _ in range(30)]
    started = time.monotonic()
    for _reader, writer in pairs:
        writer.write(b"GET /v2/ HTTP/1.1\r\nX-Slow: ")
    for _ in range(3):  # one header byte now and then, never the end of the headers
        await asyncio.sleep(0.2)
        for _reader, writer in pairs:
            if not writer.is_closing():
                writer.write(b"a")
    for reader, writer in pairs:
        assert await asyncio.wait_for(reader.read(), 2.0) == b""  # closed by gatekeeper
        writer.close()
    assert time.monotonic() - started < FAST.client_header_timeout + 1.5
    assert served.guard.timed_out >= 30
    await pull_ok(served, upstream)


async def test_idle_keep_alive_flood_is_closed_and_capped(
    upstream: FaultUpstream, permissive_policy: Path, tmp_path: Path
) -> None:
    limits = replace(FAST, max_connections=20)
    async with gate(upstream.url, permissive_policy, tmp_path, limits) as server:
        host, port = server.url.removeprefix("http://").split(":")
        idle = []
        for _ in range(20):  # one request each, then idle on the kept-alive connection
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await reader.readuntil(b"\r\n\r\n")
            idle.append((reader, writer))
        # at the cap: the next connection is answered 503 at once, not left hanging
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), 2.0)
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in answer
        writer.close()
        # the idle ones are closed after the keep-alive timeout
        for reader, writer in idle:
            await asyncio.wait_for(reader.read(), FAST.client_idle_timeout + 2.0)
            writer.close()
        await asyncio.sleep(0.05)
        assert server.guard.open == 0
        await pull_ok(server, upstream)


async def test_too_many_admissions_answer_503_quickly_with_retry_after(
    upstream: FaultUpstream, permissive_policy: Path, tmp_path: Path
) -> None:
    limits = replace(FAST, max_admissions=2, admission_queue=2, admission_queue_timeout=0.3)
    async with (
        gate(upstream.url, permissive_policy, tmp_path, limits) as server,
        aiohttp.ClientSession() as session,
    ):
        started = time.monotonic()
        pending = [
            asyncio.ensure_future(session.get(f"{server.url}/v2/hang/app/manifests/latest"))
            for _ in range(10)
        ]
        done, _ = await asyncio.wait(pending, timeout=0.6)
        quick = [task.result() for task in done]
        assert len(quick) >= 6
        assert all(r.status == 503 and r.headers["Retry-After"] == "1" for r in quick)
        assert all([await oci_error(r) == "TOOMANYREQUESTS" for r in quick])
        await asyncio.gather(*pending)
        assert time.monotonic() - started < 3.0

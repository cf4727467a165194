"""SIGTERM is bounded even when the upstream misbehaves (issue 10, finding 2): with a
request stuck on a hung upstream and a blob trickling in, gatekeeper exits within
``shutdown_grace`` plus a moment, and the unfinished stream is aborted, never framed as
complete.

gatekeeper runs as a real process (signals are the point); the upstream is the
fault-injecting server in this test's event loop.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.helpers.faulty_registry import FaultUpstream
from tests.helpers.processes import Process, start_gatekeeper

GRACE = 2.0
# The handlers cancelled after the grace unwind at once (server/run.py allows them 1 s);
# then the process exits. Room for a loaded 2-core machine. Before the fix: grace + 2.2 s.
SLACK = 1.5


@pytest.fixture
async def upstream() -> AsyncIterator[FaultUpstream]:
    server = await FaultUpstream(trickle_interval=0.1).start()
    yield server
    await server.stop()


async def exited(gate: Process, within: float) -> float:
    """Seconds until the process exits (fails after ``within``)."""
    started = time.monotonic()
    while gate.proc.poll() is None:
        assert time.monotonic() - started < within, "gatekeeper did not exit in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_sigterm_with_hung_and_trickling_upstreams_exits_within_the_grace(
    tmp_path: Path, upstream: FaultUpstream, permissive_policy: Path
) -> None:
    gate = await asyncio.to_thread(
        start_gatekeeper,
        tmp_path,
        upstream.url,
        permissive_policy,
        "--shutdown-grace",
        str(GRACE),
        # longer than the grace: only the shutdown can end these requests in time
        "--upstream-header-timeout",
        "60",
        "--upstream-total-timeout",
        "60",
        "--blob-idle-timeout",
        "60",
    )
    try:
        async with aiohttp.ClientSession() as session:
            blob = await session.get(f"{gate.url}/v2/trickle/app/blobs/sha256:{'b' * 64}")
            assert blob.status == 200
            assert await blob.content.read(1)
            hung = asyncio.ensure_future(session.get(f"{gate.url}/v2/hang/app/manifests/latest"))

            async def drain() -> int:
                got = 0
                while chunk := await blob.content.read(65536):  # keeps reading: not slow
                    got += len(chunk)
                return got

            reader = asyncio.ensure_future(drain())
            await asyncio.sleep(0.5)  # both requests are in flight upstream
            assert not hung.done() and not reader.done()
            gate.proc.send_signal(signal.SIGTERM)
            took = await exited(gate, GRACE + SLACK + 5)
            assert GRACE - 0.5 < took < GRACE + SLACK, took
            assert gate.proc.returncode == 0
            # The trickling stream was cut, not ended as if complete (chunked: no last chunk).
            with pytest.raises(aiohttp.ClientPayloadError):
                await reader
            # The hung request got no answer that could pass for content.
            try:
                response = await hung
            except aiohttp.ClientError:
                pass
            else:
                assert response.status >= 500
                await response.read()
        log = gate.log()
        assert "shutting down" in log
        assert "still in flight" in log
        assert "Traceback" not in log
    finally:
        gate.stop()

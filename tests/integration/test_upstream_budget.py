"""A full connection budget answers 503 quickly, and so does a full upstream connection pool
(issue 10): several hanging repositories together can hold every upstream connection, and a
request then gets ``503`` + ``Retry-After`` within ``upstream_pool_timeout``, not a ``504``
after the connect time-out.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from tests.helpers.faulty_registry import FaultUpstream
from tests.helpers.inproc_gate import FAST, gate

PATIENCE = 0.3
# Hanging requests outlive the test's checks: the header time-out ends them afterwards.
LIMITS = replace(
    FAST,
    upstream_pool_timeout=PATIENCE,
    upstream_header_timeout=3.0,
    upstream_total_timeout=4.0,
    upstream_connections=4,
    stream_connections=2,
    repository_connections=2,
)


@pytest.fixture
async def upstream() -> AsyncIterator[FaultUpstream]:
    server = await FaultUpstream().start()
    yield server
    await server.stop()


async def answer(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    async with session.get(url) as response:
        body = await response.read()
        code = json.loads(body)["errors"][0]["code"] if response.status >= 400 else ""
        retry = response.headers.get("Retry-After", "")
        return response.status, code, retry, time.monotonic() - started


async def test_a_full_repository_budget_answers_503_in_hundreds_of_ms(
    upstream: FaultUpstream, permissive_policy: Path, tmp_path: Path
) -> None:
    async with (
        gate(upstream.url, permissive_policy, tmp_path, LIMITS) as server,
        aiohttp.ClientSession() as session,
    ):
        url = f"{server.url}/v2/hang/app/manifests/latest"
        held = [asyncio.ensure_future(session.get(url)) for _ in range(2)]
        await asyncio.sleep(0.2)  # both budgets of hang/app are held by the hanging upstream
        status, code, retry, took = await answer(session, url)
        assert (status, code, retry) == (503, "UNAVAILABLE", "1")
        assert took < PATIENCE + 0.5, took
        for pending in held:
            (await pending).close()


async def test_a_full_upstream_pool_answers_503_not_504(
    upstream: FaultUpstream, permissive_policy: Path, tmp_path: Path
) -> None:
    async with (
        gate(upstream.url, permissive_policy, tmp_path, LIMITS) as server,
        aiohttp.ClientSession() as session,
    ):
        # two hanging repositories x 2 budgets each: all 4 upstream connections held
        held = [
            asyncio.ensure_future(session.get(f"{server.url}/v2/hang/{name}/manifests/latest"))
            for name in ("a", "a", "b", "b")
        ]
        await asyncio.sleep(0.2)
        assert server.deps.upstream.budget.connections.held == 4
        status, code, retry, took = await answer(
            session, f"{server.url}/v2/good/app/manifests/latest"
        )
        assert (status, code, retry) == (503, "UNAVAILABLE", "1")
        assert took < PATIENCE + 0.5, took
        for pending in held:
            (await pending).close()
        status, *_ = await answer(session, f"{server.url}/v2/good/app/manifests/latest")
        assert status == 200  # the pool is free again once the hanging requests time out

from __future__ import annotations

import asyncio

import pytest

from gatekeeper.state.admissions import MemoryAdmissionStore
from gatekeeper.state.singleflight import SingleFlight


async def test_concurrent_callers_share_one_computation() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    tasks = [asyncio.create_task(flights.run("k", compute)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*tasks) == [42] * 10
    assert calls == 1
    assert await flights.run("k", compute) == 42  # a later call computes again
    assert calls == 2


async def test_failure_reaches_every_waiter_and_is_not_remembered() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def boom() -> int:
        await release.wait()
        raise ValueError("x")

    tasks = [asyncio.create_task(flights.run("k", boom)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)

    async def ok() -> int:
        return 1

    assert await flights.run("k", ok) == 1


async def test_admission_records_are_per_repository_and_fingerprint() -> None:
    store = MemoryAdmissionStore(ttl=60, max_entries=10)
    await store.open_blobs("a", ["sha256:1"], "fp1")
    assert await store.blob_opened("a", "sha256:1", "fp1")
    assert not await store.blob_opened("b", "sha256:1", "fp1")
    assert not await store.blob_opened("a", "sha256:1", "fp2")


@pytest.mark.parametrize("entries", [1, 3])
async def test_admission_store_is_bounded(entries: int) -> None:
    store = MemoryAdmissionStore(ttl=60, max_entries=entries)
    await store.open_blobs("a", [f"sha256:{i}" for i in range(5)], "fp")
    kept = [await store.blob_opened("a", f"sha256:{i}", "fp") for i in range(5)]
    assert sum(kept) == entries

from __future__ import annotations

import asyncio

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


async def test_work_survives_the_cancellation_of_the_caller_that_started_it() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 7

    first = asyncio.create_task(flights.run("k", compute))
    await asyncio.sleep(0)
    second = asyncio.create_task(flights.run("k", compute))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await second == 7
    assert first.cancelled()
    assert calls == 1
    assert len(flights) == 0


async def test_cancelling_any_waiter_leaves_the_others_their_result() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def compute() -> int:
        await release.wait()
        return 3

    tasks = [asyncio.create_task(flights.run("k", compute)) for _ in range(5)]
    await asyncio.sleep(0)
    for task in tasks[1::2]:
        task.cancel()
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [r for i, r in enumerate(results) if i % 2 == 0] == [3, 3, 3]
    assert all(isinstance(r, asyncio.CancelledError) for r in results[1::2])


async def test_abandoned_work_finishes_and_is_forgotten() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    finished = asyncio.Event()

    async def compute() -> int:
        await release.wait()
        finished.set()
        raise ValueError("nobody listens")

    caller = asyncio.create_task(flights.run("k", compute))
    await asyncio.sleep(0)
    caller.cancel()
    release.set()
    await finished.wait()
    await asyncio.sleep(0)
    assert len(flights) == 0  # and no "exception never retrieved" warning (pytest: error)

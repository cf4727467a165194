"""The cached upstream state behind /readyz: bounded probes, single-flight, traffic counts."""

from __future__ import annotations

import asyncio

from gatekeeper import metrics
from gatekeeper.upstream.health import Reachability, UpstreamState

UP = UpstreamState(True, "")
DOWN = UpstreamState(False, "upstream http://r is unavailable")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_probes_at_most_once_per_interval() -> None:
    clock = Clock()
    health = Reachability("unit-a", 5.0, clock)
    answers = [UP, DOWN]

    async def probe() -> UpstreamState:
        return answers.pop(0)

    for _ in range(100):
        assert await health.check(probe) == UP
    assert health.probes == 1
    clock.now += 5.0
    assert await health.check(probe) == DOWN
    assert health.probes == 2
    assert metrics.UPSTREAM_UP.labels("unit-a")._value.get() == 0


async def test_concurrent_checks_share_one_probe() -> None:
    health = Reachability("unit-b", 5.0, Clock())
    release = asyncio.Event()

    async def probe() -> UpstreamState:
        await release.wait()
        return UP

    waiting = [asyncio.create_task(health.check(probe)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    assert set(await asyncio.gather(*waiting)) == {UP}
    assert health.probes == 1


async def test_traffic_refreshes_the_state_without_a_probe() -> None:
    clock = Clock()
    health = Reachability("unit-c", 5.0, clock)

    async def probe() -> UpstreamState:
        raise AssertionError("no probe: traffic just showed the state")

    health.saw(DOWN)
    clock.now += 4.0
    assert await health.check(probe) == DOWN
    health.saw(UP)
    clock.now += 4.0
    assert await health.check(probe) == UP
    assert metrics.UPSTREAM_UP.labels("unit-c")._value.get() == 1

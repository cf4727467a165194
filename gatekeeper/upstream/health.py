"""Whether an upstream answers, known without asking it on every readiness probe.

``/readyz`` is asked by every kubelet, load balancer and compose healthcheck, often each
second per replica; asking the upstream each time multiplies into load on the registry and
makes readiness as slow as the registry. So the state is cached: real traffic refreshes it
(an answer means up, a refused or failed connection means down), and when nothing has
refreshed it for ``interval`` seconds one probe (``GET /v2/``) is made, shared by every caller
waiting meanwhile. An upstream is therefore asked at most once per ``interval`` by a process,
however often readiness is probed. The state is exported as ``gatekeeper_upstream_up``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gatekeeper import metrics


@dataclass(frozen=True, slots=True)
class UpstreamState:
    up: bool
    reason: str  # why it is down (safe to show: no credentials), "" when up


Probe = Callable[[], Awaitable[UpstreamState]]


class Reachability:
    """The cached state of one upstream, labelled ``name`` in metrics."""

    def __init__(
        self,
        name: str,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._interval = interval
        self._clock = clock
        self._state: UpstreamState | None = None
        self._at = -math.inf
        self._probing: asyncio.Future[UpstreamState] | None = None
        self._gauge = metrics.UPSTREAM_UP.labels(name)
        self.probes = 0  # probes sent (tests count them)

    def saw(self, state: UpstreamState) -> None:
        """Record what a real exchange (or a probe) showed about the upstream."""
        if state != self._state:  # per exchange: touch the gauge only on a change
            self._gauge.set(1 if state.up else 0)
        self._state = state
        self._at = self._clock()

    def cached(self) -> UpstreamState | None:
        """The last state seen, if any, however old."""
        return self._state

    async def check(self, probe: Probe) -> UpstreamState:
        """The state, probed first when none is fresher than ``interval`` (single-flight)."""
        if self._state is not None and self._clock() - self._at < self._interval:
            return self._state
        if self._probing is None:
            self._probing = asyncio.ensure_future(self._probe(probe))
        # shield: a caller that goes away does not cancel the probe others wait on.
        return await asyncio.shield(self._probing)

    async def _probe(self, probe: Probe) -> UpstreamState:
        try:
            self.probes += 1
            state = await probe()
            self.saw(state)
            return state
        finally:
            self._probing = None

    async def refresh(self, probe: Probe) -> None:
        """Keep the state (and the gauge) fresh without readiness probes: check every
        ``interval``; a probe is only sent when traffic has not refreshed the state."""
        while True:
            await self.check(probe)
            await asyncio.sleep(self._interval)

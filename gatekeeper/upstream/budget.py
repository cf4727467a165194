"""Connection budgets towards the upstream, so no one kind of work can take them all.

Every upstream request holds one of ``upstream_connections`` budgets (the connector has a
few more, for token requests made while one is held, so it never queues a request itself:
its queue would time out as a 504, and only after the whole connect time-out). Within that,
streamed bodies (blobs, uploads) may hold at most ``stream_connections``, so manifest and
evidence requests always find a connection, and one repository may hold at most
``repository_connections`` of each kind, so a repository whose upstream hangs cannot starve
the others.
A request that cannot get all its budgets within ``upstream_pool_timeout`` (one deadline
for all of them) answers 503 with ``Retry-After`` at once: a full budget is an answer to
give quickly, not a queue to wait in.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from gatekeeper.config import Limits
from gatekeeper.errors import Unavailable

_MARKERS = ("/manifests/", "/blobs/", "/tags/list", "/referrers/")


def repository_of(path: str) -> str | None:
    """``<name>`` of a ``/v2/<name>/…`` API path (None for ``/v2/``, the catalog)."""
    if not path.startswith("/v2/"):
        return None
    for marker in _MARKERS:
        at = path.rfind(marker)
        if at > 4:
            return path[4:at]
    return None


class Slots:
    """A counting semaphore whose waiters give up after a timeout (FIFO, no busy loop)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def idle(self) -> bool:
        return self.held == 0 and not self._waiters

    async def acquire(self, patience: float) -> bool:
        if self.held < self.size and not self._waiters:
            self.held += 1
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(patience):
                await waiter
        except TimeoutError:
            return waiter.done() and not waiter.cancelled()  # handed a slot at the deadline
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as we were cancelled: pass it on
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return True

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the waiter
                return
        self.held -= 1


class Budget:
    """The stream and per-repository budgets of one process (shared by all upstreams)."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self.streams = Slots(limits.stream_connections)
        self.connections = Slots(limits.upstream_connections)
        self._repositories: dict[str, Slots] = {}

    @property
    def repositories_held(self) -> int:
        return len(self._repositories)

    @asynccontextmanager
    async def hold(self, upstream: str, path: str, *, stream: bool) -> AsyncIterator[None]:
        """Hold a connection budget for one upstream request on ``path``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._limits.upstream_pool_timeout

        def patience() -> float:
            return max(0.0, deadline - loop.time())

        async with AsyncExitStack() as stack:
            name = repository_of(path)
            if name is not None:
                # Streams and small requests are budgeted apart, so a repository's blob
                # streams cannot starve its own manifest and evidence requests either.
                key = f"{upstream}/{name}{' streams' if stream else ''}"
                slots = self._repositories.get(key)
                if slots is None:
                    slots = self._repositories[key] = Slots(self._limits.repository_connections)
                stack.callback(self._forget_idle, key, slots)
                if not await slots.acquire(patience()):
                    raise Busy(f"too many upstream requests for repository {name} in flight")
                stack.callback(slots.release)
            if stream:
                if not await self.streams.acquire(patience()):
                    raise Busy("too many streams to the upstream in flight")
                stack.callback(self.streams.release)
            if not await self.connections.acquire(patience()):
                raise Busy("all upstream connections are in use")
            stack.callback(self.connections.release)
            yield

    def _forget_idle(self, key: str, slots: Slots) -> None:
        if slots.idle and self._repositories.get(key) is slots:
            del self._repositories[key]


class Busy(Unavailable):
    """A connection budget stayed exhausted for ``upstream_pool_timeout``."""

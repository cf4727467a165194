"""Single-flight: concurrent callers asking for the same key share one computation.

The computation runs in a task of its own, so it belongs to no caller: when a caller is
cancelled (its client went away), only its wait ends; the others still get the result.
A computation that every caller abandoned still finishes (its own time-outs bound it) and
its result is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._inflight: dict[K, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    async def run(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        """Return ``compute()``'s result, computing it once for all concurrent callers."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # shield: cancelling this caller must not cancel the work the others wait for.
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: every waiter may have gone

"""Requests in flight, so a graceful stop can wait for them before closing anything."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[object]] = set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        self._count += 1
        self._idle.clear()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    async def wait_drained(self) -> None:
        """Return once no request is in flight (bound it with ``asyncio.timeout``)."""
        await self._idle.wait()

    def cancel_all(self) -> int:
        """Cancel the handlers still running (shutdown, after the grace); how many."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)

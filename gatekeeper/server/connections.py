"""Client connections, bounded: how many, and how long their first headers may take.

aiohttp has neither a connection cap nor a header-read timeout. Each accepted connection's
protocol (aiohttp's ``RequestHandler``) is wrapped:
- beyond ``max_connections`` open at once, the connection gets an immediate ``503`` with
  ``Retry-After`` and is closed before aiohttp sees it (no task, no parser);
- a connection whose first request headers are not complete within ``client_header_timeout``
  is closed (slowloris). Later requests on a kept-alive connection are bounded by aiohttp's
  keep-alive timeout (``client_idle_timeout``), which also closes a connection whose next
  headers are still unfinished when it fires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from gatekeeper.oci.error_body import error_body

_BODY = error_body("TOOMANYREQUESTS", "gatekeeper is at its connection limit: retry shortly", None)
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Retry-After: 1\r\n"
    b"Content-Type: application/json\r\n"
    b"Docker-Distribution-Api-Version: registry/2.0\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class ConnectionGuard:
    """Counts open client connections and wraps each one's protocol."""

    def __init__(self, max_connections: int, header_timeout: float) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.open = 0
        self.refused = 0
        self.timed_out = 0

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: GuardedProtocol(self, factory)


class GuardedProtocol(asyncio.Protocol):
    """Delegates to the wrapped protocol once the connection is admitted."""

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._factory = factory
        self._inner: asyncio.Protocol | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self._busy: asyncio.Transport | None = None

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        guard = self._guard
        guard.open += 1
        transport = cast(asyncio.Transport, base)  # uvloop's is not an asyncio.Transport
        if guard.open > guard.max_connections:
            guard.refused += 1
            # Answer at once, but close only once the request has been read (or after a
            # moment): closing with unread input sends a reset that can destroy the answer.
            transport.write(BUSY_RESPONSE)
            self._busy = transport
            self._timer = asyncio.get_running_loop().call_later(1.0, transport.close)
            return
        self._timer = asyncio.get_running_loop().call_later(
            guard.header_timeout, self._headers_late, transport
        )
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def _headers_late(self, transport: asyncio.Transport) -> None:
        self._timer = None
        self._guard.timed_out += 1
        transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._busy is not None:
            self._busy.close()
            return
        if self._timer is not None:
            seen = self._tail + data
            if b"\r\n\r\n" in seen:
                self._timer.cancel()
                self._timer = None
                self._tail = b""
            else:
                self._tail = seen[-3:]
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.open -= 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._inner is not None:
            self._inner.connection_lost(exc)
            self._inner = None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

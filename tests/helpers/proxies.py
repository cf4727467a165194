"""Small real proxies served from a thread: a counting reverse proxy and a forward proxy.

* :class:`CountingProxy` relays every request to one target and records its path, so a test
  can count what gatekeeper asked a real registry.
* :class:`ForwardProxy` is an HTTP forward proxy as ``HTTPS_PROXY``/``HTTP_PROXY`` name one:
  ``CONNECT host:port`` opens a tunnel (TLS upstreams), an absolute-form request
  (``GET http://host/…``) is relayed to its host. It records the head of the first request
  of each connection (what the proxy can see; inside a tunnel it sees nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from tests.helpers.processes import free_port

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _Threaded:
    """An event loop in a daemon thread; ``start``/``stop`` run coroutines on it."""

    def __init__(self) -> None:
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(15)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class CountingProxy(_Threaded):
    """A reverse proxy in front of ``target`` that records each request's path."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target.rstrip("/")
        self.paths: list[str] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> CountingProxy:
        self._run(self._start())
        return self

    def stop(self) -> None:
        self._run(self._stop())

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.close()

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        self.paths.append(request.raw_path)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method,
            URL(self.target + request.raw_path, encoded=True),
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as upstream:
            body = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
            return web.Response(status=upstream.status, body=body, headers=out)


@dataclass
class Seen:
    method: str
    target: str  # "host:port" for CONNECT, the absolute URL otherwise
    headers: dict[str, str] = field(default_factory=dict)


class ForwardProxy(_Threaded):
    """A forward proxy (CONNECT tunnels and absolute-form requests)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Seen] = []
        self._server: asyncio.Server | None = None

    def __enter__(self) -> ForwardProxy:
        self._server = self._run(asyncio.start_server(self._client, "127.0.0.1", self.port))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        self.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
        self.seen.append(Seen(method, target, headers))
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
        else:
            parsed = URL(target)
            host, port = str(parsed.host), str(parsed.port)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            up_writer.write(head)  # Go's server takes absolute-form request lines
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()

"""A fake upstream registry that misbehaves on manifest reads, served from a thread.

The first component of the repository name picks the misbehaviour, so one server covers
every case (``/v2/<mode>/<rest>/manifests/<ref>``):

* ``partial``: 206 Partial Content with the whole manifest as the "part";
* ``nonauth``: 203 Non-Authoritative Information with the manifest;
* ``redirect``: 307 to another host;
* ``notmodified``: 304 whatever was asked;
* ``honest``: a real registry's manners: 304 to a matching ``If-None-Match``, else 200.

Every request is recorded (method, path, headers), so a test can check what gatekeeper
asked the upstream for.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field

from aiohttp import web

from tests.helpers.processes import free_port

EVIL = "http://evil.invalid"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FaultyUpstream:
    manifest: bytes
    media_type: str
    seen: list[Seen] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    def __enter__(self) -> FaultyUpstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/v2/", self._base)
        app.router.add_route("*", "/v2/{name:.+}/manifests/{ref}", self._manifest)
        app.router.add_route("*", "/{tail:.*}", self._other)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def _record(self, request: web.Request) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append(Seen(request.method, request.path_qs, headers))

    async def _base(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        return web.json_response({})

    async def _other(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        return web.json_response({"errors": [{"code": "NOT_FOUND", "message": "no"}]}, status=404)

    async def _manifest(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        mode = request.match_info["name"].split("/", 1)[0]
        headers = {
            "Content-Type": self.media_type,
            "Docker-Content-Digest": self.digest,
            "Docker-Distribution-Api-Version": "registry/2.0",
        }
        size = len(self.manifest)
        if mode == "partial":
            headers["Content-Range"] = f"bytes 0-{size - 1}/{size}"
            return web.Response(status=206, body=self.manifest, headers=headers)
        if mode == "nonauth":
            return web.Response(status=203, body=self.manifest, headers=headers)
        if mode == "redirect":
            location = f"{EVIL}{request.path}"
            return web.Response(status=307, headers={**headers, "Location": location})
        if mode == "notmodified":
            return web.Response(status=304, headers=headers)
        if f'"{self.digest}"' in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(status=200, body=self.manifest, headers=headers)

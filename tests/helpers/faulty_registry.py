"""A small registry that serves good content, then misbehaves on demand.

It runs in the test's own event loop. The first component of a repository name (after
``library/``) chooses the behaviour, so one server holds every case:
- ``good/*``: a real image (manifest, config, layer) and a large blob;
- ``hang/*``: reads the request and never answers;
- ``trickle/*``: answers 200, then one byte per ``trickle_interval``;
- ``reset/*``: a blob cut off (connection reset) halfway;
- ``bigheader/*``: a response header larger than 8 KiB;
- ``endless/*``: a chunked body that never ends;
- ``storm/*``: 503 to everything.
With ``token_realm`` set, every ``/v2/`` request first needs ``Authorization: Bearer
<issued_token>``, fetched from ``/token`` (the challenge's realm carries ``realm_secret``).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field

from aiohttp import web

from tests.helpers.images import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Blob, sha256

BIG_BLOB = 16 * 1024 * 1024


@dataclass
class FaultUpstream:
    trickle_interval: float = 0.2
    realm_secret: str | None = None
    issued_token: str = "issued-token-not-for-logs"
    config: Blob = field(default_factory=lambda: Blob(OCI_CONFIG, b'{"architecture":"amd64"}'))
    layer: Blob = field(default_factory=lambda: Blob(OCI_LAYER, os.urandom(4096)))
    big: Blob = field(default_factory=lambda: Blob(OCI_LAYER, os.urandom(BIG_BLOB)))
    url: str = ""
    port: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def manifest(self) -> bytes:
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.config.descriptor(),
            "layers": [self.layer.descriptor(), self.big.descriptor()],
        }
        return json.dumps(doc).encode()

    @property
    def manifest_digest(self) -> str:
        return sha256(self.manifest)

    async def start(self) -> FaultUpstream:
        app = web.Application()
        app.router.add_route("GET", "/token", self._token)
        app.router.add_route("*", "/v2/", self._base)
        app.router.add_route("*", "/v2/{tail:.*}", self._v2)
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=0.5,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site.port
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        if request.query.get("secret") != self.realm_secret:
            return web.Response(status=403)
        return web.json_response({"token": self.issued_token, "expires_in": 300})

    def _authorized(self, request: web.Request) -> bool:
        self.seen_headers.append(dict(request.headers))
        if self.realm_secret is None:
            return True
        return request.headers.get("Authorization") == f"Bearer {self.issued_token}"

    def _challenge(self) -> web.Response:
        realm = f"{self.url}/token?secret={self.realm_secret}"
        return web.Response(
            status=401,
            headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="fault"'},
            content_type="application/json",
            text='{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}',
        )

    async def _base(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _v2(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._challenge()
        tail = request.match_info["tail"]
        mode = tail.removeprefix("library/").split("/", 1)[0]  # mirrors send library/<name>
        if mode == "hang":
            await asyncio.Event().wait()
        if mode == "storm":
            return web.json_response({"errors": [{"code": "UNAVAILABLE"}]}, status=503)
        if mode == "bigheader":
            return web.Response(status=200, headers={"X-Filler": "x" * 16384}, text="{}")
        kind, ref = _kind_and_ref(tail)
        if mode == "trickle":
            return await self._trickle(request)
        if mode == "endless":
            return await self._endless(request)
        if kind == "manifests":
            if ref not in ("latest", self.manifest_digest):
                return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)
            return web.Response(
                body=self.manifest,
                headers={
                    "Content-Type": OCI_MANIFEST,
                    "Docker-Content-Digest": self.manifest_digest,
                },
            )
        if kind == "blobs":
            blob = {b.digest: b for b in (self.config, self.layer, self.big)}.get(ref)
            if blob is None:
                return web.json_response({"errors": [{"code": "BLOB_UNKNOWN"}]}, status=404)
            if mode == "reset":
                return await self._reset(request, blob)
            return await self._chunks(request, blob)
        return web.json_response({"errors": [{"code": "NOT_FOUND"}]}, status=404)

    async def _chunks(self, request: web.Request, blob: Blob) -> web.StreamResponse:
        # Chunk by chunk, waiting for the reader: this server's own memory stays small too.
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Docker-Content-Digest": blob.digest,
            }
        )
        response.content_length = len(blob.data)
        await response.prepare(request)
        view = memoryview(blob.data)
        for at in range(0, len(view), 65536):
            await response.write(view[at : at + 65536])
        await response.write_eof()
        return response

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": OCI_MANIFEST})
        response.enable_chunked_encoding()
        await response.prepare(request)
        while True:
            await response.write(b"{")
            await asyncio.sleep(self.trickle_interval)

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": OCI_MANIFEST})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b" " * 65536
        while True:
            await response.write(chunk)

    async def _reset(self, request: web.Request, blob: Blob) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Docker-Content-Digest": blob.digest})
        response.content_length = len(blob.data)
        await response.prepare(request)
        await response.write(blob.data[: len(blob.data) // 2])
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return response


def _kind_and_ref(tail: str) -> tuple[str, str]:
    for kind in ("manifests", "blobs"):
        marker = f"/{kind}/"
        if marker in tail:
            return kind, tail.rsplit(marker, 1)[1]
    return "", ""

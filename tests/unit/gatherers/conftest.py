"""An in-memory registry (manifests by tag or digest, blobs; no referrers API) on a real port.

Serves the few routes gatekeeper's own reads use and counts every request, so gatherer tests
can prove what was fetched, what was not, and that work was not repeated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gatekeeper.config import Limits
from gatekeeper.upstream.client import Upstream
from tests.helpers.cosign_sign import sha256_digest


class FakeRegistry:
    """Manifests and blobs per repository; ``requests`` counts paths asked for."""

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()

    def put_manifest(self, repo: str, tag: str, data: bytes, media_type: str) -> str:
        digest = sha256_digest(data)
        self.manifests[(repo, tag)] = self.manifests[(repo, digest)] = (media_type, data)
        return digest

    def put_blobs(self, blobs: dict[str, bytes]) -> None:
        self.blobs.update(blobs)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(r"/v2/{repo:.+}/manifests/{ref}", self._manifest)
        app.router.add_get(r"/v2/{repo:.+}/blobs/{digest}", self._blob)
        return app  # no referrers route: like CNCF distribution 2.8, 404 "page not found"

    async def _manifest(self, request: web.Request) -> web.Response:
        self.requests[request.path] += 1
        found = self.manifests.get((request.match_info["repo"], request.match_info["ref"]))
        if found is None:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)
        return web.Response(body=found[1], headers={"Content-Type": found[0]})

    async def _blob(self, request: web.Request) -> web.Response:
        self.requests[request.path] += 1
        data = self.blobs.get(request.match_info["digest"])
        if data is None:
            return web.json_response({"errors": [{"code": "BLOB_UNKNOWN"}]}, status=404)
        return web.Response(body=data, content_type="application/octet-stream")


@pytest.fixture
async def registry() -> AsyncIterator[FakeRegistry]:
    yield FakeRegistry()


@pytest.fixture
async def upstream(registry: FakeRegistry) -> AsyncIterator[Upstream]:
    async with TestServer(registry.app(), host="127.0.0.1") as server:
        client = Upstream.create(str(server.make_url("")), Limits())
        try:
            yield client
        finally:
            await client.close()

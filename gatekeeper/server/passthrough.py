"""Requests that need no admission (uploads, tags, catalog, referrers, blob HEAD) stream
through unchanged, except for ``Location`` pointing back at gatekeeper and forwarding headers
that only trusted proxies may send."""

from __future__ import annotations

from aiohttp import web

from gatekeeper.config import Settings
from gatekeeper.proxy.stream import stream_response
from gatekeeper.server.forwarding import origins_for, upstream_headers
from gatekeeper.server.targets import Target

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def relay(
    request: web.Request,
    target: Target,
    settings: Settings,
    *,
    follow_redirects: bool = False,
    blob_digest: str | None = None,
) -> web.StreamResponse:
    """Forward ``request`` as is and stream the answer back.

    ``blob_digest``: the blob asked for; when the body came from a redirect target (blob
    storage rarely sends ``Docker-Content-Digest``), the header is added as the spec wants.
    """
    headers = upstream_headers(request, settings)
    data = request.content if request.method in _BODY_METHODS and request.body_exists else None
    upstream = target.upstream
    async with upstream.send(
        request.method,
        target.raw_path_qs,
        headers,
        data,
        follow_redirects=follow_redirects,
        own=target.own,
    ) as response:
        extra = []
        if (
            blob_digest
            and response.status == 200
            and "Docker-Content-Digest" not in response.headers
        ):
            extra.append(("Docker-Content-Digest", blob_digest))
        origins = origins_for(request, upstream, settings)
        return await stream_response(request, response, origins, extra)

"""Requests that need no admission (uploads, tags, catalog, referrers, blob HEAD) stream
through unchanged, except for ``Location`` pointing back at gatekeeper."""

from __future__ import annotations

from aiohttp import web

from gatekeeper.proxy.headers import request_headers
from gatekeeper.proxy.stream import stream_response
from gatekeeper.server.targets import Target

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def relay(
    request: web.Request,
    target: Target,
    *,
    follow_redirects: bool = False,
    blob_digest: str | None = None,
) -> web.StreamResponse:
    """Forward ``request`` as is and stream the answer back.

    ``blob_digest``: the blob asked for; when the body came from a redirect target (blob
    storage rarely sends ``Docker-Content-Digest``), the header is added as the spec wants.
    """
    headers = request_headers(request.headers.items())
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
        return await stream_response(request, response, upstream.origin, extra)

"""Requests decided on the request alone (uploads, tags, referrers, blobs, deletes) stream
through once their decision allows them, with ``Location`` pointing back at gatekeeper and
forwarding headers that only trusted proxies may send."""

from __future__ import annotations

from collections.abc import Sequence

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
    warnings: Sequence[str] = (),
    path_qs: str | None = None,
) -> web.StreamResponse:
    """Forward ``request`` and stream the answer back.

    ``blob_digest``: the blob asked for; when the body came from a redirect target (blob
    storage rarely sends ``Docker-Content-Digest``), the header is added as the spec wants.
    ``warnings``: dry-run ``Warning`` values for the response. ``path_qs``: what to ask the
    upstream for, when the caller rewrote the query (mounts); the target's otherwise.
    """
    headers = upstream_headers(request, settings, own=target.own)
    data = request.content if request.method in _BODY_METHODS and request.body_exists else None
    upstream = target.upstream
    async with upstream.send(
        request.method,
        path_qs or target.raw_path_qs,
        headers,
        data,
        follow_redirects=follow_redirects,
        own=target.own,
        stream=True,
    ) as response:
        extra = [("Warning", warning) for warning in warnings]
        if (
            blob_digest
            and response.status == 200
            and "Docker-Content-Digest" not in response.headers
        ):
            extra.append(("Docker-Content-Digest", blob_digest))
        origins = origins_for(request, upstream, settings)
        return await stream_response(request, response, origins, extra, limits=upstream.limits)

"""Per request: whether the peer's forwarding headers count, and what follows from it.

Only a peer inside ``--trusted-proxies`` may pass ``Forwarded``/``X-Forwarded-*`` upstream;
see :mod:`gatekeeper.proxy.forwarded` for why.
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from gatekeeper.config import Settings
from gatekeeper.proxy.forwarded import is_trusted, vouched_hosts
from gatekeeper.proxy.headers import request_headers
from gatekeeper.proxy.location import Origins
from gatekeeper.upstream.client import Upstream

_TRUSTED = "gatekeeper.forwarding_trusted"


def forwarding_trusted(request: web.Request, settings: Settings) -> bool:
    """True when the socket peer is a trusted proxy (worked out once per request)."""
    cached = request.get(_TRUSTED)
    if isinstance(cached, bool):
        return cached
    trusted = is_trusted(request.remote, settings.trusted_proxies)
    request[_TRUSTED] = trusted
    return trusted


def upstream_headers(
    request: web.Request, settings: Settings, *, own: bool = False
) -> CIMultiDict[str]:
    """The client's headers to send upstream (forwarding headers only from trusted proxies;
    with ``own``, under gatekeeper's identity, none of the client's credentials)."""
    return request_headers(
        request.headers.items(), keep_forwarding=forwarding_trusted(request, settings), own=own
    )


def origins_for(request: web.Request, upstream: Upstream, settings: Settings) -> Origins:
    """What the upstream's ``Location`` headers are measured against for this request."""
    vouched: tuple[str, ...] = ()
    if forwarding_trusted(request, settings):
        # The registry may build its locations from the hosts the proxy forwarded.
        vouched = vouched_hosts(
            request.headers.getall("X-Forwarded-Host", []), request.headers.getall("Forwarded", [])
        )
    return Origins(upstream.base_url, settings.public_url, vouched)

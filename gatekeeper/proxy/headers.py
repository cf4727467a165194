"""Which headers cross the proxy, preserving repeated lines (podman sends several Accept)."""

from __future__ import annotations

from collections.abc import Iterable

from multidict import CIMultiDict
from yarl import URL

# RFC 9110 §7.6.1 hop-by-hop headers, plus the ones aiohttp sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
# Response headers aiohttp's server writes itself.
_SERVER_SET = frozenset({"date", "server"})


def request_headers(items: Iterable[tuple[str, str]]) -> CIMultiDict[str]:
    """Client request headers to forward upstream; every repeated line is kept."""
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in items:
        if name.lower() not in HOP_BY_HOP:
            out.add(name, value)
    return out


def response_headers(
    items: Iterable[tuple[str, str]], upstream_origin: URL, client_origin: str
) -> CIMultiDict[str]:
    """Upstream response headers to return; ``Location`` is pointed back at gatekeeper."""
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in items:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in _SERVER_SET:
            continue
        if lower == "location":
            value = rewrite_location(value, upstream_origin, client_origin)
        out.add(name, value)
    return out


def rewrite_location(value: str, upstream_origin: URL, client_origin: str) -> str:
    """Point an upstream ``Location`` at gatekeeper.

    Only scheme, host and port change: upload session state lives in the path and query
    (``_state`` tokens) and must survive byte for byte. Relative locations stay relative,
    and locations on other hosts (blob storage redirects) are left alone.
    """
    if not value.startswith(("http://", "https://")):
        return value
    try:
        target = URL(value, encoded=True)
    except ValueError:
        return value
    if target.origin() != upstream_origin:
        return value
    rest = value[len(str(target.origin())) :]
    return client_origin + rest

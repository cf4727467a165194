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
# A client's credentials: never sent where the client did not address them (mirror mode
# sends gatekeeper's own identity upstream, so these are dropped there).
CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})
# Response headers aiohttp's server writes itself.
_SERVER_SET = frozenset({"date", "server"})


def request_headers(items: Iterable[tuple[str, str]], *, own: bool = False) -> CIMultiDict[str]:
    """Client request headers to forward upstream; every repeated line is kept.

    Hop-by-hop headers go, with those the client's ``Connection`` header names (RFC 9110
    §7.6.1). ``own``: the request goes out under gatekeeper's identity (mirror mode), so the
    client's credentials and cookies go too.
    """
    pairs = list(items)
    dropped = set(HOP_BY_HOP)
    for name, value in pairs:
        if name.lower() == "connection":
            dropped.update(token.strip().lower() for token in value.split(","))
    if own:
        dropped.update(CREDENTIALS)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in pairs:
        if name.lower() not in dropped:
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

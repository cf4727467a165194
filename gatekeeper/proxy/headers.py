"""Which headers cross the proxy, preserving repeated lines (podman sends several Accept)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from multidict import CIMultiDict

from gatekeeper.errors import UpstreamProtocolError
from gatekeeper.proxy.forwarded import is_forwarding_header
from gatekeeper.proxy.location import Origins, origin_for_log

log = logging.getLogger("gatekeeper.proxy")

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


def request_headers(
    items: Iterable[tuple[str, str]], *, keep_forwarding: bool = False, own: bool = False
) -> CIMultiDict[str]:
    """Client request headers to forward upstream; every repeated line is kept.

    Hop-by-hop headers go, with those the client's ``Connection`` header names (RFC 9110
    §7.6.1). ``Forwarded``/``X-Forwarded-*``/``X-Real-IP`` go only when ``keep_forwarding``
    (the peer is a trusted proxy): the registry builds ``Location`` URLs from them. ``own``:
    the request goes out under gatekeeper's identity (mirror mode), so the client's
    credentials and cookies go too.
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
        if name.lower() in dropped:
            continue
        if not keep_forwarding and is_forwarding_header(name):
            continue
        out.add(name, value)
    return out


def response_headers(
    items: Iterable[tuple[str, str]], status: int, base: str, origins: Origins
) -> CIMultiDict[str]:
    """Upstream response headers to return, ``Location`` in gatekeeper's form.

    ``status`` and ``base`` (the URL that answered) belong to the upstream response. A
    ``Location`` on another host (:meth:`Origins.rewrite` gives None) is never relayed.
    Blob reads follow such redirects server-side before they get here (passthrough
    ``follow_redirects``). Elsewhere:

    - a redirect (3xx) or an upload session (202) is refused with 502: the client would have
      to go to that host to carry on, past the gate (with its upload and its credentials),
      and dropping the header alone would leave it a redirect or session it cannot follow.
      The 502 tells the operator what to fix (the registry's configured external URL is
      not the address gatekeeper reaches it at).
    - any other answer (a 201 for a finished upload, an error) keeps its status and loses the
      header: the request already took effect upstream and the Location only informs, so
      refusing would misreport the outcome and make clients retry finished work.
    """
    out: CIMultiDict[str] = CIMultiDict()
    foreign: list[str] = []
    for name, value in items:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in _SERVER_SET:
            continue
        if lower == "location":
            located = origins.rewrite(value, base)
            if located is None:
                foreign.append(value)
                continue
            value = located
        out.add(name, value)
    if foreign:
        # Only origins reach the log: presigned storage URLs carry signatures in the query.
        where = ", ".join(sorted({origin_for_log(value, base) for value in foreign}))
        log.warning("upstream %d answer names another host in Location (%s)", status, where)
        if status == 202 or 300 <= status < 400:
            raise UpstreamProtocolError(
                f"gatekeeper: the upstream answered {status} with a Location on another host, "
                "which gatekeeper does not relay (operator: the registry's external URL must "
                "be the address gatekeeper reaches it at)",
                {"status": status},
            )
    return out

"""Which ``Location`` an upstream answer may carry to the client, and in what form.

A ``Location`` the client is told to follow must lead back through gatekeeper, and must never
be built from what a client said about where it is (its ``Host``, ``X-Forwarded-*``): a client
could otherwise point itself, or a cache shared with others, at any host. So a location on
the upstream becomes a relative reference (``/v2/…?query``), or an absolute one under the
operator's ``--public-url``; the path and query pass byte for byte, because upload sessions
keep their state there (``_state`` tokens). A location on any other host gets ``None``: what
to do then depends on the response (see :mod:`gatekeeper.proxy.stream`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
Authority = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Origins:
    """What an upstream location is measured against, for one request.

    ``upstream``: the registry base URL requests went to. ``public_url``: the operator's
    base URL for clients (``--public-url``), else None (relative locations). ``vouched``:
    hosts a trusted proxy named in ``X-Forwarded-Host``/``Forwarded`` (forwarded upstream,
    so the registry may build its locations from them); empty for any other peer.
    """

    upstream: str
    public_url: str | None = None
    vouched: tuple[str, ...] = ()

    def rewrite(self, value: str, base: str) -> str | None:
        """gatekeeper's ``Location`` for the upstream's ``value``, or None if it is foreign.

        ``base`` is the URL the upstream answered (relative references resolve against it,
        RFC 9110 §10.2.2).
        """
        try:
            target = urlsplit(urljoin(base, value))
            authority = _authority(target, target.scheme)
        except ValueError:  # a port out of range, a broken IPv6 literal
            return None
        if authority is None or authority not in self._own(target.scheme):
            return None
        path = _api_path(target.path, urlsplit(self.upstream).path.rstrip("/"))
        if path is None:
            return None
        relative = path + (f"?{target.query}" if target.query else "")
        return f"{self.public_url}{relative}" if self.public_url else relative

    def _own(self, scheme: str) -> set[Authority]:
        own: set[Authority] = set()
        upstream = urlsplit(self.upstream)
        found = _authority(upstream, upstream.scheme)
        if found is not None:
            own.add(found)
        for host in self.vouched:
            try:
                found = _authority(urlsplit(f"//{host}"), scheme)
            except ValueError:
                continue
            if found is not None:
                own.add(found)
        return own


def _authority(parts: SplitResult, scheme: str) -> Authority | None:
    """(host, port) of an http(s) URL without user info; None for anything else."""
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    port = parts.port
    return parts.hostname.lower(), _DEFAULT_PORTS[scheme] if port is None else port


def _api_path(path: str, prefix: str) -> str | None:
    """The path as gatekeeper serves it: the upstream's base path removed, under ``/v2``.

    gatekeeper serves nothing else, and the check also keeps a relative result from ever
    starting with ``//`` or ``/\\`` (which browsers read as another host).
    """
    if prefix:
        if not path.startswith(prefix + "/"):
            return None
        path = path[len(prefix) :]
    return path if path == "/v2" or path.startswith("/v2/") else None


def origin_for_log(value: str, base: str) -> str:
    """scheme://host[:port] of a location, for logs (never its path or query)."""
    try:
        parts = urlsplit(urljoin(base, value))
    except ValueError:
        return "an unparsable URL"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"[:200]

"""``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` for upstream connections, resolved per host.

Resolved here rather than with aiohttp's ``trust_env=True``: that also reads ``~/.netrc`` and
adds its credentials to any request without an ``Authorization`` header, which would lend
gatekeeper's host secrets to anonymous clients' relayed requests, and it re-reads the
environment on every request. Here the environment is read once (at startup) and each
origin's answer is kept.

Semantics are Python's ``urllib`` ones (as curl and Go, mostly): the lower-case variable
wins over the upper-case one; ``HTTP_PROXY`` in upper case is ignored when
``REQUEST_METHOD`` is set (CGI, "httpoxy"); ``NO_PROXY`` is a comma-separated list of host
names, domain suffixes (``.example.com`` or ``example.com``), ``host:port`` entries and
``*``. An https upstream goes through the proxy with ``CONNECT`` (the proxy sees the host name
only: gatekeeper's upstream credentials travel inside TLS); an http upstream's requests are
sent to the proxy whole, as plain HTTP always is. The only credential sent *to* the proxy is
the user info of the proxy URL itself, as ``Proxy-Authorization``.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from yarl import URL

from gatekeeper.errors import ConfigError

_MAX_ORIGINS = 256  # distinct origins remembered (upstreams and token realms are few)


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    """Where a request goes: the proxy (no user info) and the headers for the proxy only."""

    url: URL
    headers: Mapping[str, str]

    def __repr__(self) -> str:  # the headers may hold the proxy's password
        return f"ProxyRoute({self.url})"

    def extra_headers(self, target: URL) -> Mapping[str, str]:
        """Headers to add to a plain-http request sent to the proxy whole (aiohttp puts
        ``proxy_headers`` on the ``CONNECT`` of an https request only)."""
        return self.headers if target.scheme == "http" else {}


class ProxyEnv:
    """The proxy settings of one process; :meth:`route` answers per origin."""

    def __init__(self, proxies: Mapping[str, str]) -> None:
        self._proxies = dict(proxies)  # scheme → proxy URL, and "no" → the NO_PROXY list
        self._routes: dict[tuple[str, str, int | None], ProxyRoute | None] = {}
        for scheme in ("http", "https"):
            if scheme in self._proxies:
                _parse(scheme, self._proxies[scheme])  # a bad proxy URL is a startup error

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ProxyEnv:
        proxies: dict[str, str] = {}
        for name, value in environ.items():  # upper case first, lower case overrides
            if name.isupper() and name.endswith("_PROXY") and value:
                proxies[name[:-6].lower()] = value
        if "REQUEST_METHOD" in environ:
            proxies.pop("http", None)
        for name, value in environ.items():
            if name.islower() and name.endswith("_proxy") and value:
                proxies[name[:-6]] = value
        return cls({k: v for k, v in proxies.items() if k in ("http", "https", "no")})

    @classmethod
    def none(cls) -> ProxyEnv:
        return cls({})

    def describe(self) -> str:
        """For the startup log line: proxy hosts only, never user info."""
        parts = [
            f"{scheme}→{_parse(scheme, self._proxies[scheme]).url}"
            for scheme in ("https", "http")
            if scheme in self._proxies
        ]
        if parts and self._proxies.get("no"):
            parts.append(f"no_proxy={self._proxies['no']}")
        return ", ".join(parts)

    def route(self, url: URL) -> ProxyRoute | None:
        """The proxy for requests to ``url``'s origin, or None to connect directly."""
        key = (url.scheme, url.host or "", url.port)
        if key in self._routes:
            return self._routes[key]
        route = self._resolve(url)
        if len(self._routes) < _MAX_ORIGINS:
            self._routes[key] = route
        return route

    def _resolve(self, url: URL) -> ProxyRoute | None:
        proxy = self._proxies.get(url.scheme)
        if proxy is None or not url.host:
            return None
        if bypassed(url.host, url.port, self._proxies.get("no", "")):
            return None
        return _parse(url.scheme, proxy)


def bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names ``host`` (or ``host:port``): ``*``, a host name, a domain
    suffix (leading dot optional), an IP address or a CIDR network."""
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, sep, entry_port = entry.rpartition(":")
        if sep and entry_port.isdigit() and not name.endswith(":"):  # host:port, [v6]:port
            if port is not None and int(entry_port) == port and _names(name.strip("[]"), host):
                return True
            continue
        if _names(entry.strip("[]"), host):
            return True
    return False


def _names(entry: str, host: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        pass
    entry = entry.lstrip(".")
    return host == entry or host.endswith("." + entry)


def _parse(scheme: str, value: str) -> ProxyRoute:
    """``http://[user:pass@]host:port`` (a bare ``host:port`` means http)."""
    name = f"{scheme.upper()}_PROXY"
    try:
        url = URL(value if "://" in value else f"http://{value}")
    except ValueError:
        raise ConfigError(f"{name} is not a URL") from None
    if url.scheme != "http" or not url.host:
        # Only the host is named: the value may carry a password.
        raise ConfigError(
            f"{name}: only http:// proxies are supported (got {url.scheme}:// {url.host})"
        )
    headers: dict[str, str] = {}
    if url.raw_user is not None:
        pair = f"{unquote(url.raw_user)}:{unquote(url.raw_password or '')}"
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return ProxyRoute(url.with_user(None).with_password(None), headers)

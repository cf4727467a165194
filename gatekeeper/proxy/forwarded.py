"""What a peer may say about the request before it (``Forwarded``, ``X-Forwarded-*``).

These headers are claims: the registry builds its ``Location`` URLs from ``X-Forwarded-Proto``,
``X-Forwarded-Host`` and ``Forwarded`` (distribution ``registry/api/v2/urls.go``), and logs
take the client address from ``X-Forwarded-For``/``X-Real-IP``. A client talking to gatekeeper
directly could set any of them, so they count only from a peer the operator named in
``--trusted-proxies``; from anyone else they are dropped before the request goes upstream.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from gatekeeper.config import IPNetwork

_NAMES = frozenset({"forwarded", "x-real-ip"})
_PREFIX = "x-forwarded-"


def is_forwarding_header(name: str) -> bool:
    """True for ``Forwarded``, ``X-Real-IP`` and every ``X-Forwarded-*`` header."""
    lower = name.lower()
    return lower in _NAMES or lower.startswith(_PREFIX)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return address


def is_trusted(peer: str | None, networks: Sequence[IPNetwork]) -> bool:
    """True when ``peer`` (the socket's remote address) is inside a trusted network."""
    if not peer or not networks:
        return False
    address = _address(peer)
    return address is not None and any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], networks: Sequence[IPNetwork]
) -> str:
    """The client address for logs: ``peer`` unless a trusted proxy says otherwise.

    ``X-Forwarded-For`` lists every hop, each proxy appending the address it saw, so only
    the entries right of the last untrusted hop are vouched for: walk from the right, skip
    trusted proxies, and take the first other address (the leftmost if all are trusted).
    Entries before it could have been written by the client itself.
    """
    if not is_trusted(peer, networks):
        return peer or ""
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",")]
    chosen = peer or ""
    for hop in reversed([hop for hop in hops if hop]):
        address = _address(hop)
        if address is None:
            break  # unparsable (a port, "unknown", garbage): nothing left of it is vouched for
        chosen = str(address)
        if not any(address in network for network in networks):
            break
    return chosen


def vouched_hosts(forwarded_host: Iterable[str], forwarded: Iterable[str]) -> tuple[str, ...]:
    """Hosts named in ``X-Forwarded-Host`` lines and ``Forwarded`` ``host=`` parameters."""
    hosts = [host.strip() for line in forwarded_host for host in line.split(",")]
    for line in forwarded:
        for element in line.split(","):
            for pair in element.split(";"):
                key, _, value = pair.strip().partition("=")
                if key.strip().lower() == "host":
                    hosts.append(value.strip().strip('"'))
    return tuple(host for host in hosts if host)

"""Forwarding headers: which peers may send them, and the client address logs use."""

from __future__ import annotations

import ipaddress

import pytest

from gatekeeper.config import IPNetwork
from gatekeeper.proxy.forwarded import (
    client_address,
    is_forwarding_header,
    is_trusted,
    vouched_hosts,
)

PROXIES: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("10.0.0.0/24"),
    ipaddress.ip_network("fd00::/64"),
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Forwarded", True),
        ("X-Forwarded-For", True),
        ("x-forwarded-host", True),
        ("X-Forwarded-Proto", True),
        ("X-Forwarded-Port", True),
        ("X-Forwarded-Prefix", True),
        ("X-Real-IP", True),
        ("X-Request-Id", False),
        ("Host", False),
        ("Authorization", False),
    ],
)
def test_forwarding_headers(name: str, expected: bool) -> None:
    assert is_forwarding_header(name) is expected


@pytest.mark.parametrize(
    ("peer", "networks", "expected"),
    [
        ("10.0.0.7", PROXIES, True),
        ("::ffff:10.0.0.7", PROXIES, True),  # a dual-stack socket's view of an IPv4 peer
        ("fd00::1", PROXIES, True),
        ("10.0.1.7", PROXIES, False),
        ("127.0.0.1", PROXIES, False),
        ("10.0.0.7", (), False),
        (None, PROXIES, False),
        ("", PROXIES, False),
        ("not-an-address", PROXIES, False),
    ],
)
def test_trusted_peers(peer: str | None, networks: tuple[IPNetwork, ...], expected: bool) -> None:
    assert is_trusted(peer, networks) is expected


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # untrusted peer: its own address, whatever it claims
        ("192.0.2.9", ["203.0.113.1"], "192.0.2.9"),
        ("127.0.0.1", ["1.2.3.4"], "127.0.0.1"),
        # trusted proxy: the rightmost address that is not a trusted proxy
        ("10.0.0.7", ["203.0.113.1"], "203.0.113.1"),
        ("10.0.0.7", ["198.51.100.1, 203.0.113.1"], "203.0.113.1"),
        ("10.0.0.7", ["198.51.100.1", "203.0.113.1, 10.0.0.8"], "203.0.113.1"),
        ("10.0.0.7", ["2001:db8::5, fd00::2"], "2001:db8::5"),
        # a client-written prefix left of the first untrusted hop is ignored
        ("10.0.0.7", ["evil, 203.0.113.1"], "203.0.113.1"),
        # every hop trusted: the leftmost of them
        ("10.0.0.7", ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),
        # garbage right after trusted hops: stop at the last vouched-for address
        ("10.0.0.7", ["203.0.113.1, unknown"], "10.0.0.7"),
        ("10.0.0.7", ["203.0.113.1, 1.2.3.4:80, 10.0.0.6"], "10.0.0.6"),
        # no header, or an empty one: the peer
        ("10.0.0.7", [], "10.0.0.7"),
        ("10.0.0.7", [" , "], "10.0.0.7"),
        (None, ["203.0.113.1"], ""),
    ],
)
def test_client_address(peer: str | None, forwarded_for: list[str], expected: str) -> None:
    assert client_address(peer, forwarded_for, PROXIES) == expected


@pytest.mark.parametrize(
    ("forwarded_host", "forwarded", "expected"),
    [
        ([], [], ()),
        (["gate.example"], [], ("gate.example",)),
        (["gate.example:8443, other.example"], [], ("gate.example:8443", "other.example")),
        ([], ['for=1.2.3.4;host="gate.example";proto=https'], ("gate.example",)),
        ([], ["for=1.2.3.4;Host=a.example, host=b.example"], ("a.example", "b.example")),
        ([" "], ["for=1.2.3.4;proto=https"], ()),
    ],
)
def test_vouched_hosts(
    forwarded_host: list[str], forwarded: list[str], expected: tuple[str, ...]
) -> None:
    assert vouched_hosts(forwarded_host, forwarded) == expected

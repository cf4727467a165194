"""Settings parsers: what --public-url and --trusted-proxies accept."""

from __future__ import annotations

import ipaddress

import pytest

from gatekeeper.config import parse_public_url, parse_trusted_proxies
from gatekeeper.errors import ConfigError

HINT = "--public-url must be an http(s)://HOST[:PORT] origin"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://gate.example", "https://gate.example"),
        ("https://gate.example/", "https://gate.example"),
        ("http://gate.example:8080", "http://gate.example:8080"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
    ],
)
def test_public_url_accepted(value: str, expected: str) -> None:
    assert parse_public_url(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gate.example", HINT),
        ("ftp://gate.example", HINT),
        ("https://", HINT),
        ("https://user:pw@gate.example", HINT),
        ("https://gate.example?x=1", HINT),
        ("https://gate.example?", HINT),
        ("https://gate.example#x", HINT),
        ("https://gate.example:99999", HINT),
        ("https://gate.example:port", HINT),
        ("https://gate example", HINT),
        ("https://gate.example\r\nX-Evil: 1", HINT),
        ("https://gate.example/registry", "takes no path"),
    ],
)
def test_public_url_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_public_url(value)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        ("10.0.0.0/8", ("10.0.0.0/8",)),
        (" 10.0.0.1 , fd00::/64,", ("10.0.0.1/32", "fd00::/64")),
        ("127.0.0.1,::1", ("127.0.0.1/32", "::1/128")),
    ],
)
def test_trusted_proxies_accepted(value: str, expected: tuple[str, ...]) -> None:
    assert parse_trusted_proxies(value) == tuple(ipaddress.ip_network(n) for n in expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("proxy.example", "is not an IP address or CIDR network"),
        ("10.0.0.1/8", "has host bits set"),
        ("10.0.0.0/33", "is not an IP address or CIDR network"),
        ("0.0.0.0/0", "trusts every address"),
        ("10.0.0.0/8,::/0", "trusts every address"),
    ],
)
def test_trusted_proxies_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_trusted_proxies(value)
    assert message in caught.value.message

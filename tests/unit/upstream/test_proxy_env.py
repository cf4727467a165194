"""HTTPS_PROXY/HTTP_PROXY/NO_PROXY resolution for upstream origins."""

from __future__ import annotations

import base64

import pytest
from yarl import URL

from gatekeeper.errors import ConfigError
from gatekeeper.upstream.proxy_env import ProxyEnv, bypassed

ENV = {
    "HTTPS_PROXY": "http://proxy.corp:3128",
    "HTTP_PROXY": "http://plain.corp:8080",
    "NO_PROXY": "registry.internal,.svc.cluster.local,10.0.0.0/8,127.0.0.1:5000",
}


@pytest.mark.parametrize(
    ("url", "proxy"),
    [
        ("https://registry-1.docker.io", "http://proxy.corp:3128"),
        ("http://mirror.example:5000", "http://plain.corp:8080"),
        ("https://registry.internal", None),
        ("https://r.ns.svc.cluster.local:5000", None),
        ("https://svc.cluster.local", None),
        ("https://10.1.2.3:5000", None),
        ("https://11.1.2.3:5000", "http://proxy.corp:3128"),
        ("http://127.0.0.1:5000", None),
        ("http://127.0.0.1:5001", "http://plain.corp:8080"),
        ("https://notregistry.internal", "http://proxy.corp:3128"),
    ],
)
def test_routes(url: str, proxy: str | None) -> None:
    route = ProxyEnv.from_environ(ENV).route(URL(url))
    assert (str(route.url) if route else None) == proxy


def test_lower_case_wins_and_httpoxy_is_ignored() -> None:
    env = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"}
    route = ProxyEnv.from_environ(env).route(URL("http://r"))
    assert route is not None and route.url.host == "lower"
    cgi = {"HTTP_PROXY": "http://attacker:1", "REQUEST_METHOD": "GET"}
    assert ProxyEnv.from_environ(cgi).route(URL("http://r")) is None


def test_no_proxy_star_and_nothing_set() -> None:
    assert ProxyEnv.from_environ({**ENV, "NO_PROXY": "*"}).route(URL("https://x")) is None
    assert ProxyEnv.from_environ({}).route(URL("https://x")) is None
    assert bypassed("::1", 443, "::1")
    assert not bypassed("example.com", None, "ample.com")


def test_proxy_credentials_go_to_the_proxy_only() -> None:
    env = ProxyEnv.from_environ({"HTTPS_PROXY": "http://px%40user:s3cret@proxy:3128"})
    route = env.route(URL("https://registry.example"))
    assert route is not None
    assert str(route.url) == "http://proxy:3128"
    expected = base64.b64encode(b"px@user:s3cret").decode()
    assert route.headers == {"Proxy-Authorization": f"Basic {expected}"}
    assert "s3cret" not in repr(route) + env.describe()


def test_bad_proxy_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        ProxyEnv.from_environ({"HTTPS_PROXY": "socks5://u:s3cret@proxy:1080"})
    assert "s3cret" not in caught.value.message

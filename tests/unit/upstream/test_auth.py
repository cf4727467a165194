from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gatekeeper.config import DOCKER_HUB, parse_upstreams
from gatekeeper.errors import ConfigError
from gatekeeper.upstream.auth import parse_challenge, scope_for
from gatekeeper.upstream.credentials import CredentialStore


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/alpine:pull"',
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/alpine:pull",
            },
        ),
        ('Basic realm="registry"', "basic", {"realm": "registry"}),
        (
            "Bearer realm=https://t/token,service=s",
            "bearer",
            {"realm": "https://t/token", "service": "s"},
        ),
    ],
)
def test_parse_challenge(header: str, scheme: str, params: dict[str, str]) -> None:
    challenge = parse_challenge(header)
    assert challenge is not None
    assert (challenge.scheme, challenge.params) == (scheme, params)


def test_unknown_scheme() -> None:
    assert parse_challenge("Negotiate abc") is None


@pytest.mark.parametrize(
    ("path", "method", "scope"),
    [
        ("/v2/library/alpine/manifests/3", "GET", "repository:library/alpine:pull"),
        ("/v2/a/b/blobs/sha256:x", "HEAD", "repository:a/b:pull"),
        ("/v2/a/tags/list", "GET", "repository:a:pull"),
        ("/v2/a/manifests/v1", "PUT", "repository:a:pull,push"),
        ("/v2/", "GET", None),
        ("/v2/_catalog", "GET", None),
    ],
)
def test_scope_for(path: str, method: str, scope: str | None) -> None:
    assert scope_for(path, method) == scope


def test_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "auths": {
                    "registry.example:5000": {
                        "auth": base64.b64encode(b"u:p:with:colons").decode()
                    },
                    "https://index.docker.io/v1/": {"identitytoken": "refresh"},
                    "ghcr.io": {"username": "bot", "password": "pw"},
                }
            }
        )
    )
    store = CredentialStore.load(path)
    cred = store.for_url("http://registry.example:5000")
    assert cred is not None and (cred.username, cred.password) == ("u", "p:with:colons")
    hub = store.for_url(DOCKER_HUB)
    assert hub is not None and hub.identity_token == "refresh"
    assert store.for_url("https://ghcr.io") is not None
    assert store.for_url("http://registry.example:5001") is None
    assert "p:with" not in repr(cred)


@pytest.mark.parametrize(
    "doc", [{}, {"auths": []}, {"auths": {"h": {"auth": "!!"}}}, {"auths": {"h": {}}}]
)
def test_bad_credentials_files(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError):
        CredentialStore.load(path)


def test_parse_upstreams() -> None:
    assert parse_upstreams(["http://r:5000"], mirror=False) == ("http://r:5000", ())
    default, routes = parse_upstreams(["ghcr.io=https://ghcr.example"], mirror=True)
    assert default == DOCKER_HUB
    assert dict(routes) == {"docker.io": DOCKER_HUB, "ghcr.io": "https://ghcr.example"}
    default, routes = parse_upstreams(["docker.io=http://local:5000"], mirror=True)
    assert default == "http://local:5000"
    with pytest.raises(ConfigError):
        parse_upstreams([], mirror=False)
    with pytest.raises(ConfigError):
        parse_upstreams(["http://a", "http://b"], mirror=False)
    with pytest.raises(ConfigError):
        parse_upstreams(["ftp://a"], mirror=False)

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from gatekeeper.errors import Denied, HttpError, RouteDenied
from gatekeeper.oci.routes import parse_route
from gatekeeper.server.targets import resolve
from gatekeeper.upstream.client import Upstream


@pytest.fixture
async def upstreams() -> AsyncIterator[dict[str, Upstream]]:
    session = aiohttp.ClientSession()
    yield {
        "docker.io": Upstream("https://hub.example", session),
        "ghcr.io": Upstream("https://ghcr.example", session),
    }
    await session.close()


@pytest.mark.parametrize(
    ("path_qs", "upstream", "repository", "sent"),
    [
        (
            "/v2/library/alpine/manifests/3",
            "https://hub.example",
            "library/alpine",
            "/v2/library/alpine/manifests/3",
        ),
        (
            "/v2/library/alpine/manifests/3?ns=docker.io",
            "https://hub.example",
            "library/alpine",
            "/v2/library/alpine/manifests/3",
        ),
        (
            "/v2/acme/app/blobs/sha256:" + "a" * 64 + "?ns=GHCR.IO&x=1",
            "https://ghcr.example",
            "ghcr.io/acme/app",
            "/v2/acme/app/blobs/sha256:" + "a" * 64 + "?x=1",
        ),
    ],
)
async def test_mirror_routes_by_namespace(
    upstreams: dict[str, Upstream], path_qs: str, upstream: str, repository: str, sent: str
) -> None:
    route = parse_route(path_qs.split("?")[0], "GET")
    target = resolve(route, "GET", path_qs, upstreams["docker.io"], upstreams, mirror=True)
    assert (target.upstream.base_url, target.repository, target.raw_path_qs) == (
        upstream,
        repository,
        sent,
    )
    assert target.own


async def test_front_door_passes_everything_as_is(upstreams: dict[str, Upstream]) -> None:
    path = "/v2/team/app/manifests/1?ns=ghcr.io"
    target = resolve(
        parse_route("/v2/team/app/manifests/1", "PUT"),
        "PUT",
        path,
        upstreams["docker.io"],
        upstreams,
        mirror=False,
    )
    assert (target.repository, target.raw_path_qs, target.own) == ("team/app", path, False)


async def test_mirror_refusals(upstreams: dict[str, Upstream]) -> None:
    route = parse_route("/v2/a/manifests/1", "GET")
    with pytest.raises(Denied, match=r"'quay\.io' is not mirrored here"):
        resolve(
            route,
            "GET",
            "/v2/a/manifests/1?ns=quay.io",
            upstreams["docker.io"],
            upstreams,
            mirror=True,
        )
    with pytest.raises(HttpError, match="read-only mirror"):
        resolve(
            parse_route("/v2/a/manifests/1", "PUT"),
            "PUT",
            "/v2/a/manifests/1",
            upstreams["docker.io"],
            upstreams,
            mirror=True,
        )


@pytest.mark.parametrize(
    "path_qs",
    [
        "/v2/ghcr.io/acme/app/manifests/1.0.0",
        "/v2/ghcr.io/acme/app/manifests/1.0.0?ns=docker.io",
        "/v2/localhost/app/manifests/1",
        "/v2/library/alpine/manifests/3?ns=docker.io&ns=ghcr.io",
    ],
)
async def test_mirror_names_cannot_cross_registries(
    upstreams: dict[str, Upstream], path_qs: str
) -> None:
    # Fetched from the Docker Hub route, such a name would be judged by ghcr.io's rules.
    route = parse_route(path_qs.split("?")[0], "GET")
    with pytest.raises(RouteDenied):
        resolve(route, "GET", path_qs, upstreams["docker.io"], upstreams, mirror=True)


async def test_front_door_names_may_look_like_hosts(upstreams: dict[str, Upstream]) -> None:
    route = parse_route("/v2/ghcr.io/acme/app/manifests/1", "GET")
    target = resolve(
        route, "GET", "/v2/ghcr.io/acme/app/manifests/1", upstreams["docker.io"], {}, mirror=False
    )
    assert target.repository == "ghcr.io/acme/app"

"""deploy/envoy/envoy.yaml: its structure, and gatekeeper's endpoint called as Envoy calls it.

No Envoy build installs here (no Debian package; the PyPI "envoy" is an unrelated library), so
the file is checked for what makes it safe — manifests and the catalog routed through
gatekeeper with ext_authz off there, ext_authz failing closed everywhere else, the endpoint's
prefix — and the endpoint is driven the way Envoy's HTTP ext_authz client drives it: the
original method (Envoy forwards it verbatim), ``path_prefix`` + the original path, no body.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from gatekeeper.server.authz import PREFIX
from tests.helpers import images
from tests.helpers.processes import Process, start_gatekeeper

ENVOY = Path(__file__).resolve().parents[2] / "deploy" / "envoy" / "envoy.yaml"
POLICY = """
rules:
  - {name: team, repositories: ["team/**"], tags: {deny: ["latest"]}}
  - {name: secret, repositories: ["secret/**"], action: deny}
"""


def hcm(config: dict[str, Any]) -> dict[str, Any]:
    listener = config["static_resources"]["listeners"][0]
    return listener["filter_chains"][0]["filters"][0]["typed_config"]  # type: ignore[no-any-return]


def test_envoy_routes_manifests_through_gatekeeper_and_fails_closed() -> None:
    config = yaml.safe_load(ENVOY.read_text())
    manager = hcm(config)
    assert manager["normalize_path"] and manager["merge_slashes"]
    assert manager["path_with_escaped_slashes_action"] == "REJECT_REQUEST"
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    first, rest = routes[0], routes[1]
    pattern = re.compile(first["match"]["safe_regex"]["regex"])
    for path in (
        "/v2/team/app/manifests/1.0.0",
        "/v2/a/b/c/manifests/sha256:" + "a" * 64,
        "/v2/_catalog",
    ):
        assert pattern.match(path), path
    for path in ("/v2/team/app/blobs/sha256:" + "a" * 64, "/v2/team/app/tags/list"):
        assert not pattern.match(path), path
    assert first["route"]["cluster"] == "gatekeeper"
    per_route = first["typed_per_filter_config"]["envoy.filters.http.ext_authz"]
    assert per_route["disabled"] is True
    assert rest["match"] == {"prefix": "/v2/"} and rest["route"]["cluster"] == "registry"
    filters = manager["http_filters"]
    assert filters[0]["name"] == "envoy.filters.http.ext_authz"
    authz = filters[0]["typed_config"]
    assert authz["failure_mode_allow"] is False
    assert authz["http_service"]["path_prefix"] == PREFIX
    assert authz["http_service"]["server_uri"]["cluster"] == "gatekeeper"
    assert filters[-1]["name"] == "envoy.filters.http.router"
    clusters = {c["name"] for c in config["static_resources"]["clusters"]}
    assert clusters == {"gatekeeper", "registry"}


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("envoy")
    (work / "policy.yaml").write_text(POLICY)
    process = start_gatekeeper(work, registry.url, work / "policy.yaml")
    yield process
    process.stop()


def test_the_endpoint_answers_as_envoy_asks(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = f"team/{uuid.uuid4().hex[:8]}"
    img = images.image("envoy")
    assert images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0").returncode == 0
    layer = img.layers[0].digest
    authz = gate.url + PREFIX

    def ask(method: str, path: str) -> requests.Response:
        return requests.request(method, authz + path, timeout=10)

    # A blob no admitted manifest lists: refused with the OCI body Envoy passes on.
    refused = ask("GET", f"/v2/{repo}/blobs/{layer}")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "DENIED"
    # The manifest through gatekeeper's proxy opens it; HEAD existence is always answered.
    pulled = requests.get(
        f"{gate.url}/v2/{repo}/manifests/1.0.0", headers={"Accept": images.OCI_MANIFEST}, timeout=10
    )
    assert pulled.status_code == 200
    assert ask("GET", f"/v2/{repo}/blobs/{layer}").status_code == 200
    assert ask("HEAD", f"/v2/{repo}/blobs/{layer}").status_code == 200
    for method, path in (
        ("POST", f"/v2/{repo}/blobs/uploads/"),
        ("PATCH", f"/v2/{repo}/blobs/uploads/some-session"),
        ("PUT", f"/v2/{repo}/blobs/uploads/some-session?digest={layer}"),
        ("GET", f"/v2/{repo}/tags/list"),
    ):
        assert ask(method, path).status_code == 200, (method, path)
    for method, path in (
        ("GET", "/v2/secret/x/tags/list"),
        ("POST", "/v2/secret/x/blobs/uploads/"),
        ("POST", f"/v2/open/x/blobs/uploads/?mount={layer}&from=secret/x"),
        ("POST", f"/v2/{repo}/blobs/uploads/?mount={layer}"),
        ("GET", f"/v2/{repo}/manifests/1.0.0"),  # misrouted: never decided for another proxy
        ("GET", "/v2/_catalog"),
    ):
        assert ask(method, path).status_code == 403, (method, path)

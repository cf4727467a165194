"""The distribution API through gatekeeper: uploads, mounts, tags, errors, routing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.helpers import images
from tests.helpers.processes import Process, start_gatekeeper, start_registry


def _push_blob(base: str, repo: str, data: bytes) -> str:
    """POST + PUT monolithic upload (distribution 2.8 has no single-POST upload)."""
    digest = images.sha256(data)
    started = _start_upload(base, repo)
    requests.put(
        _location(base, started), params={"digest": digest}, data=data, timeout=30
    ).raise_for_status()
    return digest


def _start_upload(base: str, repo: str, **params: str) -> requests.Response:
    return requests.post(f"{base}/v2/{repo}/blobs/uploads/", params=params, timeout=10)


def _location(base: str, response: requests.Response) -> str:
    return urljoin(base + "/", response.headers["Location"])


def test_chunked_upload_continues_through_gatekeeper(gatekeeper: Process, repo: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = images.sha256(data)
    started = _start_upload(gatekeeper.url, repo)
    assert started.status_code == 202
    location = _location(gatekeeper.url, started)
    assert location.startswith(gatekeeper.url), "Location must lead back through gatekeeper"
    offset = 0
    for size in (1024 * 1024, 1024 * 1024, len(data) - 2 * 1024 * 1024):
        chunk = data[offset : offset + size]
        patched = requests.patch(
            location,
            data=chunk,
            timeout=30,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + size - 1}",
            },
        )
        assert patched.status_code == 202, patched.text
        offset += size
        location = _location(gatekeeper.url, patched)
        assert location.startswith(gatekeeper.url)
        status = requests.get(location, timeout=10)
        assert status.status_code == 204
        assert status.headers["Range"] == f"0-{offset - 1}"
    done = requests.put(location, params={"digest": digest}, timeout=30)
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    fetched = requests.get(f"{gatekeeper.url}/v2/{repo}/blobs/{digest}", timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == data


def test_monolithic_upload_and_cancel(gatekeeper: Process, repo: str) -> None:
    data = b"monolithic " + os.urandom(64)
    digest = images.sha256(data)
    started = _start_upload(gatekeeper.url, repo)
    put = requests.put(
        _location(gatekeeper.url, started),
        params={"digest": digest},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert put.status_code == 201, put.text
    head = requests.head(f"{gatekeeper.url}/v2/{repo}/blobs/{digest}", timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == digest
    started = _start_upload(gatekeeper.url, repo)
    cancelled = requests.delete(_location(gatekeeper.url, started), timeout=10)
    assert cancelled.status_code == 204


def test_cross_repository_mount(gatekeeper: Process, repo: str) -> None:
    data = os.urandom(4096)
    digest = _push_blob(gatekeeper.url, repo, data)
    target = repo + "-mounted"
    mounted = _start_upload(gatekeeper.url, target, mount=digest, **{"from": repo})
    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["Docker-Content-Digest"] == digest
    assert requests.get(f"{gatekeeper.url}/v2/{target}/blobs/{digest}", timeout=10).content == data


def test_pagination_and_link_headers_survive(
    tmp_path: Path, registry: Process, gatekeeper: Process, repo: str
) -> None:
    img = images.image("tags")
    layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
    tags = [f"1.0.{i}" for i in range(3)]
    for suffix in ("a", "b", "c"):
        images.push_layout(layout, "t", f"{gatekeeper.host}/{repo}-{suffix}:1.0.0")
    for tag in tags:
        images.push_layout(layout, "t", f"{gatekeeper.host}/{repo}:{tag}")
    # distribution 2.8 paginates the catalog (Link header) but not tag lists; gatekeeper
    # must pass n/last through and return whatever the upstream says, Link included.
    for params in ({"n": "2"}, {"n": "10", "last": "1.0.1"}, {}):
        through = requests.get(f"{gatekeeper.url}/v2/{repo}/tags/list", params=params, timeout=10)
        direct = requests.get(f"{registry.url}/v2/{repo}/tags/list", params=params, timeout=10)
        assert through.status_code == direct.status_code == 200
        assert through.json() == direct.json()
        assert through.headers.get("Link") == direct.headers.get("Link")
    seen: list[str] = []
    url = f"{gatekeeper.url}/v2/_catalog?n=1&last={repo}"
    for _ in range(2):
        page = requests.get(url, timeout=10)
        assert page.status_code == 200
        seen += page.json()["repositories"]
        link = page.headers["Link"]
        assert 'rel="next"' in link
        url = urljoin(gatekeeper.url, link.split("<", 1)[1].split(">", 1)[0])
        assert url.startswith(gatekeeper.url)
    seen += requests.get(url, timeout=10).json()["repositories"]
    assert seen == [f"{repo}-a", f"{repo}-b", f"{repo}-c"]


def test_manifest_delete_passes_through(tmp_path: Path, gatekeeper: Process, repo: str) -> None:
    img = images.image("delete")
    images.push_image(tmp_path, img, f"{gatekeeper.host}/{repo}:1.0.0")
    deleted = requests.delete(f"{gatekeeper.url}/v2/{repo}/manifests/{img.digest}", timeout=10)
    assert deleted.status_code == 202
    gone = requests.get(f"{gatekeeper.url}/v2/{repo}/manifests/{img.digest}", timeout=10)
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v2/UPPER/manifests/1.0", 400, "NAME_INVALID"),
        ("GET", "/v2/a..b/manifests/1.0", 400, "NAME_INVALID"),
        ("GET", "/v2/" + "a" * 256 + "/manifests/1.0", 400, "NAME_INVALID"),
        # a read by a reference outside the grammar finds nothing (conformance suite: 404)
        ("GET", "/v2/ok/manifests/-bad", 404, "MANIFEST_UNKNOWN"),
        ("GET", "/v2/ok/manifests/.INVALID_MANIFEST_NAME", 404, "MANIFEST_UNKNOWN"),
        ("GET", "/v2/ok/manifests/" + "t" * 129, 404, "MANIFEST_UNKNOWN"),
        ("GET", "/v2/ok/manifests/sha256:xyz", 404, "MANIFEST_UNKNOWN"),
        # a push under such a reference is a bad request
        ("PUT", "/v2/ok/manifests/-bad", 400, "TAG_INVALID"),
        ("PUT", "/v2/ok/manifests/" + "t" * 129, 400, "TAG_INVALID"),
        ("PUT", "/v2/ok/manifests/sha256:xyz", 400, "DIGEST_INVALID"),
        ("GET", "/v2/ok/blobs/sha256:" + "0" * 63, 400, "DIGEST_INVALID"),
        ("GET", "/v2/ok/blobs/md5:" + "0" * 32, 400, "DIGEST_INVALID"),
        ("GET", "/v2/ok/referrers/latest", 400, "DIGEST_INVALID"),
        ("GET", "/v2/ok%2Fevil/manifests/1.0", 400, "NAME_INVALID"),
        ("GET", "/v2/ok/unknown/thing", 404, "NOT_FOUND"),
        ("GET", "/admin", 404, "NOT_FOUND"),
        ("POST", "/v2/ok/manifests/1.0", 405, "UNSUPPORTED"),
        ("PATCH", "/v2/ok/blobs/sha256:" + "0" * 64, 405, "UNSUPPORTED"),
    ],
)
def test_bad_requests_get_oci_errors(
    gatekeeper: Process, method: str, path: str, status: int, code: str
) -> None:
    response = requests.request(method, gatekeeper.url + path, timeout=10)
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["code"] == code
    assert error["message"]
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert "Traceback" not in gatekeeper.log()


def test_upstream_errors_pass_through_unchanged(
    gatekeeper: Process, registry: Process, repo: str
) -> None:
    for path in (
        f"/v2/{repo}/manifests/9.9.9",
        f"/v2/{repo}/blobs/sha256:{'1' * 64}",
        f"/v2/{repo}/tags/list",
    ):
        through = requests.get(gatekeeper.url + path, timeout=10)
        direct = requests.get(registry.url + path, timeout=10)
        if "/blobs/" in path and through.status_code == 403:
            continue  # blob reads are gated; covered by the admission tests
        assert (through.status_code, through.json()) == (direct.status_code, direct.json())


def test_stopped_upstream_gives_503_naming_it(tmp_path: Path, permissive_policy: Path) -> None:
    upstream = start_registry(tmp_path / "reg")
    gate = start_gatekeeper(tmp_path, upstream.url, permissive_policy)
    try:
        assert requests.get(f"{gate.url}/readyz", timeout=10).status_code == 200
        upstream.stop()
        for method in ("GET", "HEAD"):
            response = requests.request(method, f"{gate.url}/v2/x/manifests/1.0", timeout=30)
            assert response.status_code == 503
        body = requests.get(f"{gate.url}/v2/x/tags/list", timeout=30).json()
        assert body["errors"][0]["code"] == "UNAVAILABLE"
        assert upstream.url in body["errors"][0]["message"]
        ready = requests.get(f"{gate.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert requests.get(f"{gate.url}/healthz", timeout=10).status_code == 200
        assert "Traceback" not in gate.log()
    finally:
        gate.stop()
        upstream.stop()


def test_base_endpoint(gatekeeper: Process) -> None:
    response = requests.get(f"{gatekeeper.url}/v2/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert json.loads(response.content or b"{}") == {}

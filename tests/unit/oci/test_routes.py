from __future__ import annotations

import pytest

from gatekeeper.errors import (
    DigestInvalid,
    ManifestUnknown,
    NameInvalid,
    RouteNotFound,
    TagInvalid,
    Unsupported,
)
from gatekeeper.oci.routes import Kind, parse_route

D = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("method", "path", "kind", "name", "ref"),
    [
        ("GET", "/v2/", Kind.BASE, "", ""),
        ("HEAD", "/v2", Kind.BASE, "", ""),
        ("GET", "/v2/_catalog", Kind.CATALOG, "", ""),
        ("GET", "/v2/a/b/tags/list", Kind.TAGS, "a/b", ""),
        ("GET", "/v2/a/manifests/v1", Kind.MANIFEST, "a", "v1"),
        ("PUT", f"/v2/a/b/c/manifests/{D}", Kind.MANIFEST, "a/b/c", D),
        ("GET", f"/v2/a/blobs/{D}", Kind.BLOB, "a", D),
        ("POST", "/v2/a/blobs/uploads/", Kind.UPLOAD_START, "a", ""),
        ("PATCH", "/v2/a/blobs/uploads/4f2c-uuid_x=", Kind.UPLOAD, "a", "4f2c-uuid_x="),
        ("GET", f"/v2/a/referrers/{D}", Kind.REFERRERS, "a", D),
        # a repository may itself contain a path component named like a route keyword
        ("GET", "/v2/manifests/manifests/v1", Kind.MANIFEST, "manifests", "v1"),
        ("GET", f"/v2/x/blobs/y/blobs/{D}", Kind.BLOB, "x/blobs/y", D),
    ],
)
def test_routes(method: str, path: str, kind: Kind, name: str, ref: str) -> None:
    route = parse_route(path, method)
    assert (route.kind, route.name, route.reference) == (kind, name, ref)


def test_tag_and_digest_properties() -> None:
    assert parse_route("/v2/a/manifests/v1", "GET").tag == "v1"
    by_digest = parse_route(f"/v2/a/manifests/{D}", "GET")
    assert (by_digest.tag, by_digest.digest) == (None, D)


@pytest.mark.parametrize(
    ("method", "path", "error"),
    [
        ("GET", "/v2/A/manifests/v1", NameInvalid),
        ("HEAD", "/v2/A/manifests/.bad", NameInvalid),  # the name is checked first
        # reads of a reference no manifest can have: not found (conformance suite: 404)
        ("GET", "/v2/a/manifests/-v1", ManifestUnknown),
        ("HEAD", "/v2/a/manifests/.INVALID_MANIFEST_NAME", ManifestUnknown),
        ("GET", "/v2/a/manifests/sha256:zz", ManifestUnknown),
        ("HEAD", "/v2/a/manifests/md5:" + "a" * 32, ManifestUnknown),
        ("GET", "/v2/a/manifests/" + "t" * 129, ManifestUnknown),
        # writes keep the grammar errors (400)
        ("PUT", "/v2/a/manifests/-v1", TagInvalid),
        ("PUT", "/v2/a/manifests/.INVALID_MANIFEST_NAME", TagInvalid),
        ("PUT", "/v2/a/manifests/sha256:zz", DigestInvalid),
        ("DELETE", "/v2/a/manifests/sha256:zz", DigestInvalid),
        ("GET", "/v2/a/blobs/latest", DigestInvalid),
        ("GET", "/v2/a/referrers/latest", DigestInvalid),
        ("GET", "/v2/a/unknown", RouteNotFound),
        ("GET", "/v3/a/manifests/v1", RouteNotFound),
        ("GET", "/v2/a/blobs/uploads/bad id", RouteNotFound),
        ("POST", "/v2/a/manifests/v1", Unsupported),
        ("PUT", f"/v2/a/blobs/{D}", Unsupported),
        ("DELETE", "/v2/_catalog", Unsupported),
    ],
)
def test_refused_routes(method: str, path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_route(path, method)


def test_manifest_unknown_wire_form() -> None:
    with pytest.raises(ManifestUnknown) as caught:
        parse_route("/v2/a/manifests/.INVALID_MANIFEST_NAME", "GET")
    assert (caught.value.code, caught.value.status) == ("MANIFEST_UNKNOWN", 404)

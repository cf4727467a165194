"""Map a request path under ``/v2/`` to a :class:`Route`, or refuse it.

The distribution API puts the repository name (which may contain ``/``) before a fixed
suffix, so each route is matched from the end of the path. Refs never contain ``/``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from gatekeeper.errors import (
    DigestInvalid,
    ManifestUnknown,
    RouteNotFound,
    TagInvalid,
    Unsupported,
)
from gatekeeper.oci.grammar import check_digest, check_name, check_reference, is_digest


class Kind(enum.Enum):
    BASE = "base"
    CATALOG = "catalog"
    TAGS = "tags"
    MANIFEST = "manifest"
    BLOB = "blob"
    UPLOAD_START = "upload-start"
    UPLOAD = "upload"
    REFERRERS = "referrers"


_METHODS: dict[Kind, frozenset[str]] = {
    Kind.BASE: frozenset({"GET", "HEAD"}),
    Kind.CATALOG: frozenset({"GET"}),
    Kind.TAGS: frozenset({"GET"}),
    Kind.MANIFEST: frozenset({"GET", "HEAD", "PUT", "DELETE"}),
    Kind.BLOB: frozenset({"GET", "HEAD", "DELETE"}),
    Kind.UPLOAD_START: frozenset({"POST"}),
    Kind.UPLOAD: frozenset({"GET", "PATCH", "PUT", "DELETE"}),
    Kind.REFERRERS: frozenset({"GET"}),
}

_MANIFEST_READS = frozenset({"GET", "HEAD"})
_UPLOAD_ID = re.compile(r"[a-zA-Z0-9._=-]{1,512}")
# (kind, pattern over the path after "/v2/"); order matters: uploads before blobs.
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (Kind.TAGS, re.compile(r"(?P<name>.+)/tags/list")),
    (Kind.MANIFEST, re.compile(r"(?P<name>.+)/manifests/(?P<ref>[^/]+)")),
    (Kind.UPLOAD_START, re.compile(r"(?P<name>.+)/blobs/uploads/?")),
    (Kind.UPLOAD, re.compile(r"(?P<name>.+)/blobs/uploads/(?P<ref>[^/]+)")),
    (Kind.BLOB, re.compile(r"(?P<name>.+)/blobs/(?P<ref>[^/]+)")),
    (Kind.REFERRERS, re.compile(r"(?P<name>.+)/referrers/(?P<ref>[^/]+)")),
)


@dataclass(frozen=True, slots=True)
class Route:
    """A validated distribution API route."""

    kind: Kind
    name: str = ""
    reference: str = ""

    @property
    def digest(self) -> str | None:
        """The reference when it is a digest (manifest by digest, blob, referrers)."""
        return self.reference if is_digest(self.reference) else None

    @property
    def tag(self) -> str | None:
        """The reference when it is a tag (manifest by tag)."""
        if self.kind is Kind.MANIFEST and not is_digest(self.reference):
            return self.reference
        return None


def parse_route(path: str, method: str) -> Route:
    """Validate ``path`` (e.g. ``/v2/library/alpine/manifests/3.20``) for ``method``.

    Raises NAME_INVALID / TAG_INVALID / DIGEST_INVALID for grammar errors, NOT_FOUND for
    paths outside the API and UNSUPPORTED for a method the route does not have. A manifest
    read (GET/HEAD) by a reference outside the grammar is MANIFEST_UNKNOWN instead.
    """
    if path in ("/v2", "/v2/"):
        return _allowed(Route(Kind.BASE), method)
    if path == "/v2/_catalog":
        return _allowed(Route(Kind.CATALOG), method)
    if not path.startswith("/v2/"):
        raise RouteNotFound(f"unknown API path {path[:120]!r}")
    rest = path[4:]
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(rest)
        if match is None:
            continue
        name = check_name(match["name"])
        ref = match.groupdict().get("ref") or ""
        if kind is Kind.MANIFEST:
            _check_manifest_reference(ref, method)
        elif kind in (Kind.BLOB, Kind.REFERRERS):
            check_digest(ref)
        elif kind is Kind.UPLOAD and _UPLOAD_ID.fullmatch(ref) is None:
            raise RouteNotFound(f"invalid upload id {ref[:80]!r}")
        return _allowed(Route(kind, name, ref), method)
    raise RouteNotFound(f"unknown API path {path[:120]!r}")


def _check_manifest_reference(ref: str, method: str) -> None:
    try:
        check_reference(ref)
    except (TagInvalid, DigestInvalid) as exc:
        # No manifest can exist under a malformed reference, so a read is "not found": the
        # spec's pull section answers a missing manifest with 404, and the conformance
        # suite reads `.INVALID_MANIFEST_NAME` expecting it. A push (PUT) keeps the 400:
        # there the client asked to create something that can never be named.
        if method in _MANIFEST_READS:
            raise ManifestUnknown(f"manifest unknown: {exc.message}") from exc
        raise


def _allowed(route: Route, method: str) -> Route:
    if method not in _METHODS[route.kind]:
        raise Unsupported(f"{method} is not supported on {route.kind.value} endpoints")
    return route

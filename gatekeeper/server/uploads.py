"""Blob uploads, and the cross-repository mounts that start one.

An upload writes to the target repository (``Action.UPLOAD``). A mount
(``POST …/blobs/uploads/?mount=<digest>&from=<repository>``) is also a READ of the ``from``
repository (``Action.MOUNT``): without that second decision a client could copy any blob
out of a repository it may not read into one it may. A refused mount is not an error the
client has to handle: it becomes a plain upload session (202), as when a registry cannot
mount (distribution-spec "Mounting a blob from another repository"), and is logged.

The query the upstream sees is rebuilt from what was decided on: a repeated ``mount`` or
``from`` (which the upstream might read differently) is refused, and ``mount`` without
``from`` is dropped (registries that search every repository for it would mount from
anywhere). Form-encoded and multipart bodies are refused on every upload request:
distribution reads ``mount``/``from``/``digest`` with Go's ``Request.FormValue``, which
parses such a body and prefers it to the query, so parameters could arrive unseen by the
gate. Blob uploads carry ``application/octet-stream`` (or no body).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from gatekeeper.admission.admit import admit_request
from gatekeeper.admission.deps import Deps
from gatekeeper.errors import HttpError
from gatekeeper.oci.grammar import check_digest, check_name
from gatekeeper.oci.routes import Route
from gatekeeper.policy.model import Action
from gatekeeper.server.enforce import conclude, log_decision
from gatekeeper.server.passthrough import relay
from gatekeeper.server.targets import Target

_MOUNT_KEYS = ("mount", "from")
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


@dataclass(frozen=True, slots=True)
class UploadStart:
    """An upload start's query, parsed the one way the upstream will see it."""

    path: str
    kept: list[tuple[str, str]]  # every parameter but mount/from, in order
    digest: str | None  # ``mount``: only when ``from`` names its source
    source: str | None  # ``from``
    partial: bool = False  # ``mount`` without ``from`` or the reverse (dropped here)

    def path_qs(self, *, mount: bool) -> str:
        params = list(self.kept)
        if mount and self.digest is not None and self.source is not None:
            params += [("mount", self.digest), ("from", self.source)]
        return self.path + ("?" + urlencode(params) if params else "")


def parse_upload_start(raw_path_qs: str) -> UploadStart:
    """Split an upload start's query; refuse what the upstream might read differently."""
    path, _, query = raw_path_qs.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    for key in _MOUNT_KEYS:
        if sum(1 for name, _ in params if name == key) > 1:
            raise HttpError("UNSUPPORTED", 400, f"the '{key}' parameter may be given only once")
    values = dict(params)
    digest, source = values.get("mount"), values.get("from")
    kept = [(k, v) for k, v in params if k not in _MOUNT_KEYS]
    if digest is None or source is None:
        return UploadStart(path, kept, None, None, partial=digest is not None or source is not None)
    return UploadStart(path, kept, check_digest(digest), check_name(source))


async def upload(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> web.StreamResponse:
    refuse_form_bodies(request)
    admission = await admit_request(deps, Action.UPLOAD, target.repository, route.reference)
    warnings = conclude(request, deps, admission)
    path_qs = None
    if request.method == "POST":
        path_qs, mount_warnings = await _mount(request, target, deps)
        warnings += mount_warnings
    return await relay(request, target, deps.settings, warnings=warnings, path_qs=path_qs)


async def _mount(request: web.Request, target: Target, deps: Deps) -> tuple[str, list[str]]:
    """The upstream path and query for an upload start, with the mount decided."""
    start = parse_upload_start(target.raw_path_qs)
    if start.digest is None or start.source is None:
        return start.path_qs(mount=False), []
    admission = await admit_request(deps, Action.MOUNT, start.source, start.digest, start.digest)
    if admission.decision.refused:
        log_decision(request, deps, admission)  # a plain upload session instead
        return start.path_qs(mount=False), []
    return start.path_qs(mount=True), conclude(request, deps, admission)


def refuse_form_bodies(request: web.Request) -> None:
    """Refuse form-encoded and multipart upload bodies (the module docstring says why)."""
    types = request.headers.getall("Content-Type", [])
    if len(types) > 1:
        raise HttpError("UNSUPPORTED", 400, "a blob upload has one Content-Type")
    if types and types[0].split(";", 1)[0].strip().lower() in _FORM_TYPES:
        raise HttpError(
            "UNSUPPORTED",
            415,
            "blob uploads carry application/octet-stream, not form data",
        )

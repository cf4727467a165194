"""The decision endpoint for proxies that move the bytes themselves.

nginx ``auth_request`` and Envoy ``ext_authz`` (HTTP service) ask gatekeeper whether a request
may proceed, then proxy it to the registry on their own. The answer comes from the same
admission core as gatekeeper's own proxying (:mod:`gatekeeper.admission.admit` and the pure
``decide``), and every refusal is logged the same way.

Only requests that are decided on the request alone are answered here: blob reads (by digest,
so the bytes cannot change between check and use), existence checks, uploads and mounts, tag
lists, referrers. Manifests and the catalog are refused here, fail closed: gatekeeper must
serve the manifest bytes it checked, and the catalog is filtered. The proxy routes
``/v2/*/manifests/*`` and ``/v2/_catalog`` to gatekeeper's proxy instead (``deploy/nginx``).

The original request is read from ``X-Original-Method`` / ``X-Original-URI`` (nginx), else
from this request's own method and the path after :data:`PREFIX` (Envoy's ``path_prefix``).
Answers: ``200`` (with ``Warning`` headers in dry-run) or ``403`` with the OCI error body. A
refusal also carries the body in ``X-Gatekeeper-Error`` and its status in
``X-Gatekeeper-Status``: nginx discards an auth subrequest's body and turns any status but
401/403 into a 500, so every refusal is a 403 and the proxy returns the body from the header.
"""

from __future__ import annotations

from aiohttp import web

from gatekeeper.admission.admit import admit_request
from gatekeeper.admission.deps import Deps
from gatekeeper.errors import GatekeeperError, HttpError, RouteDenied
from gatekeeper.oci.error_body import error_body
from gatekeeper.oci.routes import Kind, Route, parse_route
from gatekeeper.policy.model import Action
from gatekeeper.server.enforce import conclude, mark_start, refuse_unchecked
from gatekeeper.server.targets import Target, resolve
from gatekeeper.server.uploads import parse_upload_start, refuse_form_bodies

PREFIX = "/_gatekeeper/authz"
# nginx's default buffer for an upstream's response headers is 4 KiB.
_MAX_ERROR_HEADER = 3000
_ACTIONS: dict[tuple[Kind, str], Action] = {
    (Kind.BLOB, "GET"): Action.READ_BLOB,
    (Kind.BLOB, "HEAD"): Action.STAT_BLOB,
    (Kind.BLOB, "DELETE"): Action.DELETE_BLOB,
    (Kind.TAGS, "GET"): Action.LIST_TAGS,
    (Kind.REFERRERS, "GET"): Action.REFERRERS,
    (Kind.UPLOAD_START, "POST"): Action.UPLOAD,
    **{(Kind.UPLOAD, m): Action.UPLOAD for m in ("GET", "PATCH", "PUT", "DELETE")},
}


def original(request: web.Request) -> tuple[str, str]:
    """The method and path-with-query of the request being asked about."""
    method = request.headers.get("X-Original-Method", request.method).upper()
    uri = request.headers.get("X-Original-URI")
    if uri is None:
        uri = request.raw_path[len(PREFIX) :] or "/"
    return method, uri


async def authz(request: web.Request, deps: Deps) -> web.Response:
    mark_start(request)
    try:
        return await _decide(request, deps)
    except GatekeeperError as exc:
        return _refused(exc)


async def _decide(request: web.Request, deps: Deps) -> web.Response:
    method, uri = original(request)
    route = parse_route(uri.split("?", 1)[0], method)
    try:
        target = resolve(route, method, uri, deps.upstream, deps.namespaces, deps.settings.mirror)
    except RouteDenied as exc:
        raise refuse_unchecked(
            request,
            deps,
            _ACTIONS.get((route.kind, method), Action.PULL),
            route.name,
            route.reference,
            "mirror-route",
            exc.message.removeprefix("gatekeeper: "),
        ) from None
    if route.kind is Kind.BASE:
        return web.Response(status=200)
    action = _ACTIONS.get((route.kind, method))
    if action is None:  # manifests, catalog
        raise refuse_unchecked(
            request,
            deps,
            Action.PULL if route.kind is Kind.MANIFEST else Action.CATALOG,
            route.name,
            route.reference,
            "proxy-required",
            f"{route.kind.value} requests are served by gatekeeper itself, not decided for"
            " another proxy: route /v2/*/manifests/* and /v2/_catalog to gatekeeper",
        )
    warnings = await _admit(request, deps, route, target, action)
    response = web.Response(status=200)
    for warning in warnings:
        response.headers.add("Warning", warning)
    return response


async def _admit(
    request: web.Request, deps: Deps, route: Route, target: Target, action: Action
) -> list[str]:
    if action is Action.UPLOAD:
        refuse_form_bodies(request)
    digest = route.reference if route.kind is Kind.BLOB else ""
    admission = await admit_request(deps, action, target.repository, route.reference, digest)
    warnings = conclude(request, deps, admission)
    if route.kind is Kind.UPLOAD_START:
        start = parse_upload_start(target.raw_path_qs)
        if start.digest is not None and start.source is not None:
            # The proxy forwards the query as it is, so a refused mount cannot become a plain
            # upload here (as it does through gatekeeper's own proxy): it is refused.
            mount = await admit_request(
                deps, Action.MOUNT, start.source, start.digest, start.digest
            )
            warnings += conclude(request, deps, mount)
        elif start.partial:
            # Some registries search every repository for a mount without 'from'.
            raise HttpError("UNSUPPORTED", 400, "mount needs exactly one 'from' repository")
    return warnings


def _refused(error: GatekeeperError) -> web.Response:
    body = error_body(error.code, error.message, error.detail)
    header = (
        body if len(body) <= _MAX_ERROR_HEADER else error_body(error.code, error.message[:2000])
    )
    return web.Response(
        status=403,
        body=body,
        content_type="application/json",
        headers={
            "X-Gatekeeper-Error": header.decode("ascii", "replace")[:_MAX_ERROR_HEADER],
            "X-Gatekeeper-Status": str(error.status),
        },
    )

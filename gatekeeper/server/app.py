"""``create_app``: routes every request to its handler; dependencies are injected."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from gatekeeper.admission.admit import admit_request
from gatekeeper.admission.deps import Deps
from gatekeeper.errors import HttpError, RouteDenied
from gatekeeper.oci.routes import Kind, Route, parse_route
from gatekeeper.policy.model import Action
from gatekeeper.server import authz, blobs, manifests, uploads
from gatekeeper.server.catalog import catalog
from gatekeeper.server.enforce import conclude, mark_start, refuse_unchecked
from gatekeeper.server.errors import INFLIGHT, oci_errors, stamp_response
from gatekeeper.server.inflight import InFlight
from gatekeeper.server.observe import KIND, metrics_endpoint, observe
from gatekeeper.server.passthrough import relay
from gatekeeper.server.slots import admission_slots
from gatekeeper.server.targets import Target, resolve

log = logging.getLogger("gatekeeper.server")

DEPS = web.AppKey("deps", Deps)


def create_app(deps: Deps) -> web.Application:
    # client_max_size only bounds bodies aiohttp reads itself; gatekeeper streams the rest.
    middlewares: list[Middleware] = [observe, oci_errors, admission_slots(deps.settings.limits)]
    app = web.Application(middlewares=middlewares, client_max_size=1024**2)
    app[DEPS] = deps
    app[INFLIGHT] = InFlight()
    app.on_response_prepare.append(stamp_response)
    app.on_response_prepare.append(_flush_decisions)
    app.router.add_route("GET", "/healthz", healthz)
    app.router.add_route("GET", "/readyz", readyz)
    if deps.settings.metrics_listen is None:  # else only on the metrics listener
        app.router.add_route("GET", "/metrics", metrics_endpoint)
    app.router.add_route("*", authz.PREFIX, _authz)
    app.router.add_route("*", authz.PREFIX + "/{tail:.*}", _authz)
    app.router.add_route("*", "/v2", dispatch)
    app.router.add_route("*", "/v2/{tail:.*}", dispatch)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app


async def dispatch(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS]
    mark_start(request)
    raw_path = request.raw_path.split("?", 1)[0]
    route = parse_route(raw_path, request.method)
    request[KIND] = route.kind.value
    try:
        target = resolve(
            route,
            request.method,
            request.raw_path,
            deps.upstream,
            deps.namespaces,
            deps.settings.mirror,
        )
    except RouteDenied as exc:
        raise refuse_unchecked(
            request,
            deps,
            _LOGGED_AS.get(route.kind, Action.PULL),
            route.name,
            route.reference,
            "mirror-route",
            exc.message.removeprefix("gatekeeper: "),
        ) from None
    if target.namespace is not None:
        request["gatekeeper.namespace"] = target.namespace
    handler = _HANDLERS.get((route.kind, request.method))
    if handler is not None:
        return await handler(request, route, target, deps)
    if route.kind is Kind.CATALOG:
        return await catalog(request, target, deps)
    if route.kind is Kind.BASE:
        return await relay(request, target, deps.settings)
    action = _ACTIONS[route.kind]
    admission = await admit_request(deps, action, target.repository, route.reference)
    return await relay(request, target, deps.settings, warnings=conclude(request, deps, admission))


Handler = Callable[[web.Request, Route, Target, Deps], Awaitable[web.StreamResponse]]
# Every route kind with a repository is decided: by a handler that gathers its facts, or
# (tag lists, referrers) on the request alone below. There is no undecided path.
_HANDLERS: dict[tuple[Kind, str], Handler] = {
    (Kind.MANIFEST, "GET"): manifests.pull,
    (Kind.MANIFEST, "HEAD"): manifests.pull,
    (Kind.MANIFEST, "PUT"): manifests.push,
    (Kind.MANIFEST, "DELETE"): manifests.delete,
    (Kind.BLOB, "GET"): blobs.blob,
    (Kind.BLOB, "HEAD"): blobs.blob,
    (Kind.BLOB, "DELETE"): blobs.blob,
    (Kind.UPLOAD_START, "POST"): uploads.upload,
    **{(Kind.UPLOAD, method): uploads.upload for method in ("GET", "PATCH", "PUT", "DELETE")},
}
_ACTIONS = {Kind.TAGS: Action.LIST_TAGS, Kind.REFERRERS: Action.REFERRERS}
_LOGGED_AS = {
    Kind.MANIFEST: Action.PULL,
    Kind.BLOB: Action.READ_BLOB,
    Kind.TAGS: Action.LIST_TAGS,
    Kind.REFERRERS: Action.REFERRERS,
    Kind.CATALOG: Action.CATALOG,
}


async def _flush_decisions(request: web.Request, response: web.StreamResponse) -> None:
    # An audit log that lags the decisions it records is not one: a request's decision
    # line reaches the OS before its response starts (lines still coalesce per response).
    request.app[DEPS].decisions.flush()


async def _authz(request: web.Request) -> web.StreamResponse:
    return await authz.authz(request, request.app[DEPS])


async def not_found(request: web.Request) -> web.StreamResponse:
    raise HttpError(
        "NOT_FOUND",
        404,
        f"unknown path {request.path[:120]!r}: gatekeeper "
        "serves the OCI distribution API under /v2/",
    )


async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.StreamResponse:
    """Ready when a policy is loaded and the upstream answers ``/v2/`` (200 or 401).

    The upstream's state is cached (gatekeeper.upstream.health): however often this is
    probed, the upstream is asked at most once per ``upstream_probe_interval``.
    """
    deps = request.app[DEPS]
    policy = deps.policies.current
    state = await deps.upstream.state()
    if not state.up:
        return web.json_response({"status": "unavailable", "reason": state.reason}, status=503)
    return web.json_response({"status": "ready", "policy": policy.fingerprint[:12]})

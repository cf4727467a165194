"""``create_app``: routes every request to its handler; dependencies are injected."""

from __future__ import annotations

import logging

from aiohttp import web
from multidict import CIMultiDict

from gatekeeper.admission.deps import Deps
from gatekeeper.errors import GatekeeperError, HttpError
from gatekeeper.oci.routes import Kind, parse_route
from gatekeeper.server import blobs, manifests
from gatekeeper.server.enforce import refuse_denied_repository
from gatekeeper.server.errors import INFLIGHT, oci_errors, stamp_response
from gatekeeper.server.inflight import InFlight
from gatekeeper.server.passthrough import relay
from gatekeeper.server.targets import resolve

log = logging.getLogger("gatekeeper.server")

DEPS = web.AppKey("deps", Deps)


def create_app(deps: Deps) -> web.Application:
    # client_max_size only bounds bodies aiohttp reads itself; gatekeeper streams the rest.
    app = web.Application(middlewares=[oci_errors], client_max_size=1024**2)
    app[DEPS] = deps
    app[INFLIGHT] = InFlight()
    app.on_response_prepare.append(stamp_response)
    app.router.add_route("GET", "/healthz", healthz)
    app.router.add_route("GET", "/readyz", readyz)
    app.router.add_route("*", "/v2", dispatch)
    app.router.add_route("*", "/v2/{tail:.*}", dispatch)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app


async def dispatch(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS]
    raw_path = request.raw_path.split("?", 1)[0]
    route = parse_route(raw_path, request.method)
    target = resolve(
        route,
        request.method,
        request.raw_path,
        deps.upstream,
        deps.namespaces,
        deps.settings.mirror,
    )
    if target.namespace is not None:
        request["gatekeeper.namespace"] = target.namespace
    admission_point = route.kind is Kind.MANIFEST and request.method in ("GET", "HEAD", "PUT")
    if route.name and not admission_point:  # admission points decide (and log) themselves
        refuse_denied_repository(deps.policies.current, target.repository, route.reference)
    if route.kind is Kind.MANIFEST:
        if request.method in ("GET", "HEAD"):
            return await manifests.pull(request, route, target, deps)
        if request.method == "PUT":
            return await manifests.push(request, route, target, deps)
    if route.kind is Kind.BLOB and request.method in ("GET", "HEAD"):
        return await blobs.get_blob(request, route, target, deps)
    return await relay(request, target, deps.settings)


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
    """Ready when a policy is loaded and the upstream answers ``/v2/`` (200 or 401)."""
    deps = request.app[DEPS]
    policy = deps.policies.current
    try:
        async with deps.upstream.send("GET", "/v2/", CIMultiDict()) as response:
            status = response.status
    except GatekeeperError as exc:
        return web.json_response({"status": "unavailable", "reason": exc.message}, status=503)
    if status not in (200, 401):
        return web.json_response(
            {"status": "unavailable", "reason": f"upstream /v2/ answered {status}"}, status=503
        )
    return web.json_response({"status": "ready", "policy": policy.fingerprint[:12]})

"""The outermost middleware: request metrics and the request id every log line carries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from gatekeeper import logging_setup, metrics
from gatekeeper.server.client_info import new_request_id

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

KIND = "gatekeeper.kind"  # set by the dispatcher: the OCI route kind (manifest, blob, …)
REQUEST_ID = "gatekeeper.request_id"
_CLIENT_CLOSED = 499  # nginx's convention: the client went away before the answer
_PATH_KINDS = {"/healthz": "healthz", "/readyz": "readyz", "/metrics": "metrics"}


def route_kind(request: web.Request) -> str:
    """A bounded label for what was asked: the OCI route kind, or the gatekeeper endpoint."""
    kind = request.get(KIND)
    if isinstance(kind, str):
        return kind
    path = request.path
    if path.startswith("/v2"):
        return "invalid"  # refused before it was routed
    if path.startswith("/authz"):
        return "authz"
    return _PATH_KINDS.get(path, "other")


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request; name it with a request id in logs and responses."""
    rid = new_request_id(request)
    request[REQUEST_ID] = rid
    logging_setup.REQUEST_ID.set(rid)  # this request's own task: no reset needed
    start = time.perf_counter()
    status = _CLIENT_CLOSED
    metrics.REQUESTS_IN_FLIGHT.inc()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception:
        status = 500
        raise
    else:
        status = response.status
        return response
    finally:
        metrics.REQUESTS_IN_FLIGHT.dec()
        metrics.observe_request(
            route_kind(request), request.method, status, time.perf_counter() - start
        )


async def metrics_endpoint(request: web.Request) -> web.StreamResponse:
    """``GET /metrics``: the Prometheus text exposition (all workers' in multiprocess mode)."""
    body, content_type = await asyncio.to_thread(metrics.exposition)
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def metrics_app() -> web.Application:
    """The application behind ``--metrics-listen``: ``/metrics`` only."""
    app = web.Application()
    app.router.add_route("GET", "/metrics", metrics_endpoint)
    return app

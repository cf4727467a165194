"""Render every error as an OCI error body; never a 500 page or a traceback on the wire."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from gatekeeper.errors import GatekeeperError, HttpError, UpstreamProtocolError
from gatekeeper.oci.error_body import error_body
from gatekeeper.redact import describe
from gatekeeper.server.inflight import InFlight

log = logging.getLogger("gatekeeper.server")

INFLIGHT = web.AppKey("inflight", InFlight)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {404: "NOT_FOUND", 405: "UNSUPPORTED", 413: "SIZE_INVALID"}


def error_response(request: web.Request, error: GatekeeperError) -> web.Response:
    # aiohttp sends no body for HEAD; clients then GET to read the error (DESIGN.md).
    body = error_body(error.code, error.message, error.detail)
    response = web.Response(status=error.status, body=body, content_type="application/json")
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@web.middleware
async def oci_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors become OCI bodies with the right status."""
    try:
        with request.app[INFLIGHT].track():
            response = await handler(request)
    except GatekeeperError as exc:
        if exc.status >= 500:
            log.warning(
                "%s %s → %d %s: %s", request.method, request.path, exc.status, exc.code, exc.message
            )
        response = error_response(request, exc)
    except web.HTTPException as exc:
        code = _HTTP_CODES.get(exc.status, "UNSUPPORTED")
        response = error_response(request, HttpError(code, exc.status, exc.reason))
    except aiohttp.ClientError as exc:
        # An upstream that answered but not in HTTP we accept (oversized headers, a broken
        # body). Never log the error's repr: it holds the request, credentials included.
        log.warning(
            "%s %s → 502: upstream sent a malformed response (%s: %s)",
            request.method,
            request.path,
            type(exc).__name__,
            describe(exc),
        )
        response = error_response(
            request, UpstreamProtocolError("upstream registry sent a malformed response")
        )
    except Exception as exc:
        # The type only: the message and repr of an arbitrary error may carry request data.
        log.error("internal error on %s %s: %s", request.method, request.path, type(exc).__name__)
        log.debug("internal error details", exc_info=True)
        response = error_response(request, HttpError("UNKNOWN", 500, "internal error"))
    return response


async def stamp_response(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: headers every response carries, streamed ones included."""
    # gatekeeper's own answers (refusals, errors) speak the same API as the registry's.
    response.headers.setdefault("Docker-Distribution-Api-Version", "registry/2.0")
    rid = request.get("gatekeeper.request_id")
    if isinstance(rid, str):
        response.headers["X-Request-Id"] = rid
    namespace = request.get("gatekeeper.namespace")
    if isinstance(namespace, str):
        response.headers["OCI-Namespace"] = namespace

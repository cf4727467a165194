"""Request identity for logs and responses (never used for decisions)."""

from __future__ import annotations

import itertools
import os
import re

from aiohttp import web

from gatekeeper.admission.decision_log import Client

# Unique per process start (random prefix) and per request (counter): cheaper than uuid4.
_PREFIX = os.urandom(4).hex()
_COUNTER = itertools.count(1)
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(request: web.Request) -> str:
    """The id set by the middleware (the client's X-Request-Id when safe to echo)."""
    rid = request.get("gatekeeper.request_id")
    return rid if isinstance(rid, str) else new_request_id(request)


def new_request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    return given if _SAFE_ID.fullmatch(given) else f"{_PREFIX}{next(_COUNTER):08x}"


def client_of(request: web.Request) -> Client:
    return Client(
        request_id=request_id(request),
        address=request.remote or "",
        user_agent=request.headers.get("User-Agent", "")[:200],
    )

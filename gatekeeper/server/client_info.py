"""Request identity for logs and responses (never used for decisions)."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Sequence

from aiohttp import web

from gatekeeper.admission.decision_log import Client
from gatekeeper.config import IPNetwork
from gatekeeper.proxy.forwarded import client_address

# Unique per process (random prefix) and per request (counter): cheaper than uuid4. Workers
# are forked after import, so each takes a prefix of its own (else ids repeat across them).
_PREFIX = os.urandom(4).hex()
_COUNTER = itertools.count(1)


def _new_process() -> None:
    global _PREFIX, _COUNTER
    _PREFIX = os.urandom(4).hex()
    _COUNTER = itertools.count(1)


os.register_at_fork(after_in_child=_new_process)
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(request: web.Request) -> str:
    """The id set by the middleware (the client's X-Request-Id when safe to echo)."""
    rid = request.get("gatekeeper.request_id")
    return rid if isinstance(rid, str) else new_request_id(request)


def new_request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    return given if _SAFE_ID.fullmatch(given) else f"{_PREFIX}{next(_COUNTER):08x}"


def client_of(request: web.Request, trusted_proxies: Sequence[IPNetwork] = ()) -> Client:
    """Who asked; the address honours ``X-Forwarded-For`` only from a trusted proxy."""
    forwarded_for = request.headers.getall("X-Forwarded-For", [])
    return Client(
        request_id=request_id(request),
        address=client_address(request.remote, forwarded_for, trusted_proxies),
        user_agent=request.headers.get("User-Agent", "")[:200],
    )

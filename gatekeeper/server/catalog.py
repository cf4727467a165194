"""``GET /v2/_catalog``: the upstream's list, less every repository the policy refuses.

A repository's visibility is an ``Action.CATALOG`` decision (its rule refuses → hidden), so
the catalog cannot reveal what exists behind a deny rule. Pagination (``n``, ``last``,
``Link``) is the upstream's: a page may come back shorter than ``n``.
"""

from __future__ import annotations

import json

from aiohttp import web
from multidict import CIMultiDict

from gatekeeper.admission.deps import Deps
from gatekeeper.errors import UpstreamProtocolError
from gatekeeper.policy.decide import decide
from gatekeeper.policy.evidence import AdmissionRequest
from gatekeeper.policy.model import Action
from gatekeeper.proxy.bodies import read_bounded
from gatekeeper.proxy.stream import relayed_headers, stream_response
from gatekeeper.server.forwarding import origins_for, upstream_headers
from gatekeeper.server.targets import Target

_MAX_CATALOG_BYTES = 8 * 1024 * 1024


async def catalog(request: web.Request, target: Target, deps: Deps) -> web.StreamResponse:
    upstream = target.upstream
    origins = origins_for(request, upstream, deps.settings)
    headers = upstream_headers(request, deps.settings, own=target.own)
    for name in ("If-None-Match", "If-Modified-Since", "Range", "If-Range"):
        headers.popall(name, None)
    async with upstream.send("GET", target.raw_path_qs, headers, own=target.own) as response:
        if response.status != 200:
            if response.status in range(400, 600):
                return await stream_response(request, response, origins)
            raise UpstreamProtocolError(f"upstream answered {response.status} to _catalog")
        body = await read_bounded(
            response.content, response.content_length, _MAX_CATALOG_BYTES, "catalog"
        )
        kept = relayed_headers(response, origins)
    try:
        listed = json.loads(body)["repositories"]
        if not isinstance(listed, list):
            raise TypeError("repositories is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise UpstreamProtocolError("upstream _catalog answer is not a catalog") from exc
    policy = deps.policies.current
    visible = [
        name
        for name in listed
        if isinstance(name, str)
        and not decide(policy, AdmissionRequest(Action.CATALOG, _qualified(target, name))).refused
    ]
    out: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in kept.items() if k.lower() not in ("content-length", "content-type")
    )
    return web.json_response({"repositories": visible}, headers=out)


def _qualified(target: Target, name: str) -> str:
    """The name policy sees for a listed repository (namespace-qualified in mirror mode)."""
    if target.namespace is None or target.namespace == "docker.io":
        return name
    return f"{target.namespace}/{name}"

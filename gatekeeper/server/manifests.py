"""Manifest pulls (GET/HEAD) and pushes (PUT): the admission points.

A pull fetches the manifest once, checks the bytes, decides, and serves exactly those
bytes; a HEAD is answered from the same fetch (real Content-Length and digest, no body).
"""

from __future__ import annotations

import time

from aiohttp import web
from multidict import CIMultiDict

from gatekeeper.admission.admit import Admission, admit, record
from gatekeeper.admission.deps import Deps
from gatekeeper.errors import Denied, DigestInvalid
from gatekeeper.oci.digest import digest_of
from gatekeeper.oci.manifest import parse_manifest
from gatekeeper.oci.media_types import ACCEPT_ALL
from gatekeeper.oci.routes import Route
from gatekeeper.policy.model import Action
from gatekeeper.proxy.bodies import read_bounded
from gatekeeper.proxy.stream import relayed_headers, stream_response
from gatekeeper.server.client_info import client_of
from gatekeeper.server.enforce import enforce
from gatekeeper.server.forwarding import origins_for, upstream_headers
from gatekeeper.server.targets import Target

_SERVED_BY_US = frozenset({"content-length", "content-type", "docker-content-digest"})


async def pull(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> web.StreamResponse:
    started = time.perf_counter()
    upstream = target.upstream
    origins = origins_for(request, upstream, deps.settings)
    # Always GET, even for a HEAD: an honest HEAD needs the checked bytes' length and digest.
    async with upstream.send(
        "GET", target.raw_path_qs, upstream_headers(request, deps.settings), own=target.own
    ) as response:
        if response.status != 200:
            return await stream_response(request, response, origins)
        body = await read_bounded(
            response.content,
            response.content_length,
            deps.settings.limits.manifest_bytes,
            "upstream manifest",
        )
        content_type = response.headers.get("Content-Type")
        kept = relayed_headers(response, origins)
        claimed = response.headers.get("Docker-Content-Digest")
    digest = _checked_digest(body, route, claimed)
    admission = await admit(
        deps,
        Action.PULL,
        target.repository,
        route.reference,
        digest,
        body,
        content_type,
        source=(target.upstream, route.name),
    )
    warnings = _conclude(request, deps, admission, started)
    await record(deps, admission)
    headers: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in kept.items() if k.lower() not in _SERVED_BY_US
    )
    headers["Docker-Content-Digest"] = digest
    headers["Content-Type"] = content_type or (
        admission.manifest.media_type if admission.manifest else "application/json"
    )
    for warning in warnings:
        headers.add("Warning", warning)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=body, headers=headers)


async def push(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> web.StreamResponse:
    started = time.perf_counter()
    limit = deps.settings.limits.manifest_bytes
    body = await read_bounded(request.content, request.content_length, limit, "manifest")
    digest = digest_of(body, route.digest.split(":")[0] if route.digest else "sha256")
    if route.digest is not None and route.digest != digest:
        raise DigestInvalid(f"manifest body has digest {digest}, not {route.digest}")
    parse_manifest(body, request.headers.get("Content-Type"))  # bad input: 400, not a refusal
    current = None
    rule = deps.policies.current.match(target.repository)
    if route.tag is not None and rule is not None and rule.tags.immutable:
        current = await _current_digest(request, route, target, deps)
    admission = await admit(
        deps,
        Action.PUSH,
        target.repository,
        route.reference,
        digest,
        body,
        request.headers.get("Content-Type"),
        current_tag_digest=current,
    )
    warnings = _conclude(request, deps, admission, started)
    headers = upstream_headers(request, deps.settings)
    headers.popall("Content-Length", None)
    origins = origins_for(request, target.upstream, deps.settings)
    async with target.upstream.send("PUT", target.raw_path_qs, headers, body) as response:
        extra = [("Warning", warning) for warning in warnings]
        return await stream_response(request, response, origins, extra)


def _conclude(request: web.Request, deps: Deps, admission: Admission, started: float) -> list[str]:
    """Log the decision, then enforce it (raise DENIED) or return Warning headers."""
    elapsed = (time.perf_counter() - started) * 1000
    client = client_of(request, deps.settings.trusted_proxies)
    deps.decisions.write(admission.request, admission.decision, client, elapsed)
    return enforce(admission.decision, admission.request.digest, admission.request.reference)


def _checked_digest(body: bytes, route: Route, claimed: str | None) -> str:
    """Digest the bytes ourselves; refuse if they are not what was asked or announced."""
    algorithm = route.digest.split(":", 1)[0] if route.digest else "sha256"
    digest = digest_of(body, algorithm)
    if route.digest is not None and digest != route.digest:
        raise Denied(
            f"gatekeeper: integrity: upstream sent a manifest with digest {digest} "
            f"for {route.digest}",
            {"requested": route.digest, "received": digest},
        )
    if claimed and claimed.split(":", 1)[0] == algorithm and claimed != digest:
        raise Denied(
            f"gatekeeper: integrity: upstream announced {claimed} but sent bytes "
            f"with digest {digest}",
            {"announced": claimed, "received": digest},
        )
    return digest


async def _current_digest(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> str | None:
    """What the pushed tag points at now (for immutable tags), via HEAD upstream."""
    headers = upstream_headers(request, deps.settings)
    headers.popall("Content-Length", None)
    headers.popall("Content-Type", None)
    headers.popall("Accept", None)
    headers["Accept"] = ACCEPT_ALL
    async with target.upstream.send("HEAD", target.raw_path_qs, headers) as response:
        if response.status == 404:
            return None
        if response.status != 200:
            raise Denied(
                f"gatekeeper: cannot tell what tag {route.tag} points at "
                f"(upstream answered {response.status})"
            )
        return response.headers.get("Docker-Content-Digest")

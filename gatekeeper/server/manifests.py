"""Manifest pulls (GET/HEAD), pushes (PUT) and deletes: the admission points.

A pull fetches the manifest once, with a plain full GET, checks the bytes, decides, and
serves exactly those bytes; a HEAD is answered from the same fetch (real Content-Length and
digest, no body). Only a 200 from the upstream carries content that can be checked: a
304, 206, 203 or redirect is never relayed, and client conditional or range headers are
not forwarded (a 304 would answer without a decision, and is an existence oracle).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

from gatekeeper.admission.admit import admit_manifest, admit_request, gate_repository, record
from gatekeeper.admission.deps import Deps
from gatekeeper.errors import DigestInvalid, UpstreamProtocolError
from gatekeeper.oci.digest import digest_of
from gatekeeper.oci.manifest import parse_manifest
from gatekeeper.oci.media_types import ACCEPT_ALL
from gatekeeper.oci.routes import Route
from gatekeeper.policy.model import Action, Outcome
from gatekeeper.proxy.bodies import read_bounded
from gatekeeper.proxy.stream import relayed_headers, stream_response
from gatekeeper.server.enforce import conclude, refuse_unchecked
from gatekeeper.server.forwarding import origins_for, upstream_headers
from gatekeeper.server.passthrough import relay
from gatekeeper.server.targets import Target
from gatekeeper.state.manifest_bytes import accepts

_SERVED_BY_US = frozenset({"content-length", "content-type", "docker-content-digest"})
# Conditional and range requests would let the upstream answer without the full bytes.
_NOT_FORWARDED = (
    "If-None-Match",
    "If-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "If-Range",
    "Range",
)
# Upstream errors a client needs as they are (auth challenges, not found, rate limits,
# outages): they carry no manifest, so relaying them serves nothing unchecked.
_RELAYED_ERRORS = range(400, 600)


@dataclass(frozen=True, slots=True)
class _Fetched:
    body: bytes
    content_type: str | None
    digest: str  # computed by gatekeeper over ``body``
    headers: CIMultiDict[str]  # upstream headers to pass on


async def pull(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> web.StreamResponse:
    gate = gate_repository(deps, Action.PULL, target.repository, route.reference)
    conclude(request, deps, gate, final=False)
    fetched = _stored(request, route, target, deps)
    if fetched is None:
        got = await _fetch(request, route, target, deps)
        if isinstance(got, web.StreamResponse):
            return got  # an upstream error, relayed
        fetched = got
    body, content_type, digest = fetched.body, fetched.content_type, fetched.digest
    admission = await admit_manifest(
        deps,
        Action.PULL,
        target.repository,
        route.reference,
        digest,
        body,
        content_type,
        source=(target.upstream, route.name),
    )
    warnings = conclude(request, deps, admission)
    await record(deps, admission)
    if (
        deps.served is not None
        and _shared(request, target)
        and admission.decision.outcome is Outcome.ALLOW
    ):
        media_type = content_type or (admission.manifest.media_type if admission.manifest else "")
        deps.served.put(target.upstream.base_url, route.name, digest, body, media_type)
    out: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in fetched.headers.items() if k.lower() not in _SERVED_BY_US
    )
    out["Docker-Content-Digest"] = digest
    out["Content-Type"] = content_type or (
        admission.manifest.media_type if admission.manifest else "application/json"
    )
    for warning in warnings:
        out.add("Warning", warning)
    if request.method == "HEAD":
        out["Content-Length"] = str(len(body))
        return web.Response(status=200, headers=out)
    return web.Response(status=200, body=body, headers=out)


def _stored(request: web.Request, route: Route, target: Target, deps: Deps) -> _Fetched | None:
    """By digest: the bytes admitted earlier, when the client may see them and accepts their
    type. Decided again like fetched bytes; only the upstream round trip is saved.
    """
    if deps.served is None or route.digest is None or not _shared(request, target):
        return None
    stored = deps.served.get(target.upstream.base_url, route.name, route.digest)
    if stored is None or not accepts(request.headers.getall("Accept", []), stored.content_type):
        return None
    return _Fetched(stored.body, stored.content_type, route.digest, CIMultiDict())


def _shared(request: web.Request, target: Target) -> bool:
    """True when what the upstream serves this request, it serves every such request.

    Mirror mode reads with gatekeeper's own identity. At a front door the registry authorises
    each client: only a request carrying no credentials (no ``Authorization``, no ``Cookie``)
    was answered as anyone would be.
    """
    if target.own:
        return True
    return "Authorization" not in request.headers and "Cookie" not in request.headers


async def _fetch(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> _Fetched | web.StreamResponse:
    """The manifest from the upstream with a plain full GET, digested; or its error relayed."""
    upstream = target.upstream
    origins = origins_for(request, upstream, deps.settings)
    headers = upstream_headers(request, deps.settings, own=target.own)
    for name in _NOT_FORWARDED:
        headers.popall(name, None)
    # Always GET, even for a HEAD: an honest HEAD needs the checked bytes' length and digest.
    async with upstream.send("GET", target.raw_path_qs, headers, own=target.own) as response:
        if response.status in _RELAYED_ERRORS:
            return await stream_response(request, response, origins)
        if response.status != 200:
            raise UpstreamProtocolError(
                f"upstream answered {response.status} to a manifest GET; only a full 200"
                " can be checked"
            )
        body = await read_bounded(
            response.content,
            response.content_length,
            deps.settings.limits.manifest_bytes,
            "upstream manifest",
        )
        content_type = response.headers.get("Content-Type")
        kept = relayed_headers(response, origins)
        claimed = response.headers.get("Docker-Content-Digest")
    digest = _checked_digest(request, deps, target, body, route, claimed)
    return _Fetched(body, content_type, digest, kept)


async def push(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> web.StreamResponse:
    gate = gate_repository(deps, Action.PUSH, target.repository, route.reference)
    conclude(request, deps, gate, final=False)
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
    admission = await admit_manifest(
        deps,
        Action.PUSH,
        target.repository,
        route.reference,
        digest,
        body,
        request.headers.get("Content-Type"),
        current_tag_digest=current,
    )
    warnings = conclude(request, deps, admission)
    headers = upstream_headers(request, deps.settings)
    headers.popall("Content-Length", None)
    origins = origins_for(request, target.upstream, deps.settings)
    async with target.upstream.send("PUT", target.raw_path_qs, headers, body) as response:
        extra = [("Warning", warning) for warning in warnings]
        return await stream_response(request, response, origins, extra)


async def delete(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> web.StreamResponse:
    admission = await admit_request(deps, Action.DELETE, target.repository, route.reference)
    warnings = conclude(request, deps, admission)
    if deps.served is not None and route.digest is not None:
        deps.served.evict(target.upstream.base_url, route.name, route.digest)
    return await relay(request, target, deps.settings, warnings=warnings)


def _checked_digest(
    request: web.Request,
    deps: Deps,
    target: Target,
    body: bytes,
    route: Route,
    claimed: str | None,
) -> str:
    """Digest the bytes ourselves; refuse if they are not what was asked or announced."""
    algorithm = route.digest.split(":", 1)[0] if route.digest else "sha256"
    digest = digest_of(body, algorithm)
    if route.digest is not None and digest != route.digest:
        raise refuse_unchecked(
            request,
            deps,
            Action.PULL,
            target.repository,
            route.reference,
            "integrity",
            f"integrity: upstream sent a manifest with digest {digest} for {route.digest}",
            {"requested": route.digest, "received": digest},
        )
    if claimed and claimed.split(":", 1)[0] == algorithm and claimed != digest:
        raise refuse_unchecked(
            request,
            deps,
            Action.PULL,
            target.repository,
            route.reference,
            "integrity",
            f"integrity: upstream announced {claimed} but sent bytes with digest {digest}",
            {"announced": claimed, "received": digest},
        )
    return digest


async def _current_digest(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> str | None:
    """What the pushed tag points at now (for immutable tags), via HEAD upstream."""
    headers = upstream_headers(request, deps.settings)
    for name in ("Content-Length", "Content-Type", "Accept", *_NOT_FORWARDED):
        headers.popall(name, None)
    headers["Accept"] = ACCEPT_ALL
    async with target.upstream.send("HEAD", target.raw_path_qs, headers) as response:
        if response.status == 404:
            return None
        if response.status != 200:
            raise UpstreamProtocolError(
                f"cannot tell what tag {route.tag} points at (upstream answered"
                f" {response.status}); immutable tags are checked before a push"
            )
        current = response.headers.get("Docker-Content-Digest")
        if current is None:
            # Without it the tag would look new and could move: fail closed.
            raise UpstreamProtocolError(
                f"cannot tell what tag {route.tag} points at (no Docker-Content-Digest)"
            )
        return current

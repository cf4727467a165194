"""Blob reads, existence checks and deletes, each decided before the upstream is asked.

A blob GET is served only when a manifest admitted in that repository lists it
(``Action.READ_BLOB``); HEAD answers existence only (clients ask before uploading);
dry-run never blocks. Upstream redirects (blob storage) are followed here so clients never
need another host.
"""

from __future__ import annotations

from aiohttp import web

from gatekeeper.admission.admit import admit_request
from gatekeeper.admission.deps import Deps
from gatekeeper.oci.routes import Route
from gatekeeper.policy.model import Action
from gatekeeper.server.enforce import conclude
from gatekeeper.server.passthrough import relay
from gatekeeper.server.targets import Target

_ACTIONS = {"GET": Action.READ_BLOB, "HEAD": Action.STAT_BLOB, "DELETE": Action.DELETE_BLOB}


async def blob(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> web.StreamResponse:
    action = _ACTIONS[request.method]
    digest = route.reference
    admission = await admit_request(deps, action, target.repository, digest, digest)
    warnings = conclude(request, deps, admission)
    if action is Action.DELETE_BLOB:
        return await relay(request, target, deps.settings, warnings=warnings)
    return await relay(
        request, target, deps.settings, follow_redirects=True, blob_digest=digest, warnings=warnings
    )

"""Blob reads: served only for blobs of a manifest admitted recently in that repository.

HEAD stays open (clients check for blobs before uploading them); dry-run never blocks, and
neither does a rule that admits every manifest (gating could refuse nothing there).
Upstream redirects (blob storage) are followed here so clients never need another host.
"""

from __future__ import annotations

from aiohttp import web

from gatekeeper.admission.deps import Deps
from gatekeeper.errors import Denied
from gatekeeper.oci.routes import Route
from gatekeeper.policy.model import Mode
from gatekeeper.server.passthrough import relay
from gatekeeper.server.targets import Target


async def get_blob(
    request: web.Request, route: Route, target: Target, deps: Deps
) -> web.StreamResponse:
    policy = deps.policies.current
    digest = route.reference
    rule = policy.match(target.repository)
    gated = (
        request.method == "GET"
        and not (rule is not None and rule.admits_everything)
        and policy.mode_for(rule) is Mode.ENFORCE
    )
    if gated and not await deps.admissions.admitted(target.repository, digest, policy.fingerprint):
        raise Denied(
            f"gatekeeper: blob {digest} is not part of an image admitted in "
            f"{target.repository} (fix: pull the image's manifest through gatekeeper first)",
            {"rule": rule.name if rule else None, "digest": digest},
        )
    return await relay(request, target, deps.settings, follow_redirects=True, blob_digest=digest)

"""Build everything a decision needs from the settings: upstreams, stores, gatherers.

Used by ``gatekeeper serve`` and ``gatekeeper evaluate`` alike, so both decide with the same
parts. Resources with a lifetime are entered on the caller's AsyncExitStack.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from gatekeeper.admission.decision_log import DecisionLog
from gatekeeper.admission.deps import Deps
from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.config import Settings
from gatekeeper.gatherers.assemble import build_gatherers
from gatekeeper.state.admissions import (
    AdmissionStore,
    MemoryAdmissionStore,
    SharedAdmissionStore,
)
from gatekeeper.state.manifest_bytes import ManifestBytes
from gatekeeper.state.manifests import ParsedManifests
from gatekeeper.state.shared_redis import SharedRedis
from gatekeeper.upstream.pool import build_upstreams


async def build_deps(settings: Settings, policies: PolicyStore, stack: AsyncExitStack) -> Deps:
    """Everything a request needs; resources are closed when ``stack`` closes."""
    limits = settings.limits
    upstream, namespaces = build_upstreams(settings)
    stack.push_async_callback(upstream.session.close)
    decisions = DecisionLog(settings.decision_log)
    stack.callback(decisions.close)
    redis = SharedRedis(settings.redis) if settings.redis else None
    admissions: AdmissionStore
    if redis is not None:
        stack.push_async_callback(redis.close)
        admissions = SharedAdmissionStore(
            redis,
            limits.admission_ttl,
            limits.admission_entries,
            limits.admission_repository_entries,
        )
    else:
        admissions = MemoryAdmissionStore(
            limits.admission_ttl, limits.admission_entries, limits.admission_repository_entries
        )
    return Deps(
        settings=settings,
        upstream=upstream,
        policies=policies,
        admissions=admissions,
        decisions=decisions,
        gatherers=await build_gatherers(settings, upstream, stack, redis),
        namespaces=namespaces,
        manifests=ParsedManifests(limits.manifest_cache_bytes, limits.manifest_refs),
        # Mirror mode: the upstream's content is the same for every client, and gatekeeper
        # reads it with its own credentials, so no age bound is needed; at a front door the
        # bytes are served again only to anonymous clients, for served_manifest_age.
        served=ManifestBytes(
            limits.served_manifest_bytes,
            None if settings.mirror else limits.served_manifest_age,
        ),
    )

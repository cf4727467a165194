"""The gatherers a running gatekeeper uses, built around one upstream."""

from __future__ import annotations

from gatekeeper.gatherers.signatures import RegistrySignatures
from gatekeeper.server.evidence import Gatherers
from gatekeeper.upstream.client import Upstream


def default_gatherers(upstream: Upstream) -> Gatherers:
    return Gatherers(signatures=RegistrySignatures(upstream))

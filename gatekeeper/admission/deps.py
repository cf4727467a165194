"""What the application needs, built once and injected into ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gatekeeper.admission.decision_log import DecisionLog
from gatekeeper.admission.evidence import Gatherers
from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.config import Settings
from gatekeeper.state.admissions import AdmissionStore
from gatekeeper.state.manifest_bytes import ManifestBytes
from gatekeeper.state.manifests import ParsedManifests
from gatekeeper.upstream.client import Upstream


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Deps:
    settings: Settings
    upstream: Upstream
    policies: PolicyStore
    admissions: AdmissionStore
    decisions: DecisionLog
    gatherers: Gatherers = field(default_factory=Gatherers)
    namespaces: dict[str, Upstream] = field(default_factory=dict)  # mirror routes
    manifests: ParsedManifests = field(default_factory=ParsedManifests)
    # Admitted manifest bytes by digest (None: always ask the upstream).
    served: ManifestBytes | None = None
    clock: Callable[[], datetime] = utc_now

"""``gatekeeper evaluate REF``: the decision gatekeeper would make, without a client."""

from __future__ import annotations

import json
import os
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from gatekeeper.admission.admit import Admission, admit_manifest
from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.admission.wiring import build_deps
from gatekeeper.config import Settings
from gatekeeper.explain import explain
from gatekeeper.oci.grammar import check_name, check_reference
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.model import Action, Outcome
from gatekeeper.upstream.reads import fetch_manifest


@dataclass(frozen=True, slots=True)
class Reference:
    repository: str
    reference: str  # tag or digest


def parse_reference(text: str) -> Reference:
    """``repo:tag`` or ``repo@sha256:…`` (a bare ``repo`` means ``repo:latest``)."""
    if "@" in text:
        repository, reference = text.split("@", 1)
    else:
        slash = text.rfind("/")
        colon = text.rfind(":")
        repository, reference = (
            (text[:colon], text[colon + 1 :]) if colon > slash else (text, "latest")
        )
    return Reference(check_name(repository), check_reference(reference))


async def evaluate(
    settings: Settings, ref: Reference, policies: PolicyStore | None = None
) -> Admission:
    """Fetch ``ref`` with gatekeeper's own credentials and decide, as a pull would.

    ``policies``: the policy to decide by (default: the files ``settings`` names).
    """
    if policies is None:
        policies = PolicyStore(settings.policy_paths, load_policy, dry_run=settings.dry_run)
    async with AsyncExitStack() as stack:
        deps = await build_deps(replace(settings, decision_log=Path(os.devnull)), policies, stack)
        fetched = await fetch_manifest(
            deps.upstream, ref.repository, ref.reference, settings.limits.manifest_bytes
        )
        return await admit_manifest(
            deps,
            Action.PULL,
            ref.repository,
            ref.reference,
            fetched.digest,
            fetched.data,
            fetched.content_type,
        )


def render(admission: Admission, as_json: bool, explained: bool = False) -> str:
    decision = admission.decision
    request = admission.request
    details = explain(admission) if explained else []
    if as_json:
        extra = {"explain": details} if explained else {}
        return json.dumps(
            {
                "repository": request.repository,
                "reference": request.reference,
                "digest": request.digest,
                "rule": decision.rule,
                "outcome": decision.log_outcome,
                "mode": decision.mode.value,
                "reasons": list(decision.reasons),
                "hints": list(decision.hints),
                "codes": list(decision.codes),
                **extra,
            },
            indent=2,
        )
    lines = [
        f"{decision.log_outcome.upper()} {request.repository}:{request.reference}"
        if ":" not in request.reference
        else f"{decision.log_outcome.upper()} {request.repository}@{request.reference}",
        f"  digest: {request.digest}",
        f"  rule:   {decision.rule or '(no rule matches: default deny)'}",
        f"  mode:   {decision.mode.value}",
    ]
    lines += [f"  reason: {reason}" for reason in decision.reasons]
    lines += [f"  fix:    {hint}" for hint in decision.hints]
    if explained:
        lines.append("  evidence:")
        lines += [f"    {line}" for line in details]
    return "\n".join(lines)


def exit_code(admission: Admission) -> int:
    """0 allow, 1 deny (would-deny included: the image breaks policy)."""
    return 0 if admission.decision.outcome is Outcome.ALLOW else 1

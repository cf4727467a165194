"""The one place where a Decision turns into a response: refuse, warn, or let through.

The same Decision is computed in every mode; only here does the mode act.
"""

from __future__ import annotations

from typing import Any

from gatekeeper.errors import Denied
from gatekeeper.policy.decide import decide_repository
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.model import Outcome, Policy

# RFC 9111 §5.5 warn-code 299 "Miscellaneous persistent warning"; the distribution spec
# lets registries send it and containerd prints it.
_WARNING_LIMIT = 400


def refusal(decision: Decision, digest: str, reference: str) -> Denied:
    """The DENIED error for a refused decision, worded for docker/skopeo/podman output."""
    reason = "; ".join(decision.reasons) or "refused by policy"
    rule = decision.rule or "no matching rule"
    message = f"gatekeeper: {rule}: {reason}"
    if decision.hints:
        message += " (fix: " + "; ".join(decision.hints) + ")"
    detail: dict[str, Any] = {
        "rule": decision.rule,
        "reasons": list(decision.reasons),
        "hints": list(decision.hints),
        "digest": digest,
        "reference": reference,
    }
    return Denied(message, detail)


def warning_headers(decision: Decision) -> list[str]:
    """``Warning`` header values for a would-deny decision (dry-run); empty otherwise."""
    if decision.outcome is Outcome.ALLOW or decision.refused:
        return []
    text = "; ".join(decision.reasons) or "refused by policy"
    # Header values are Latin-1 on the wire; keep them plain ASCII (→ is common in reasons).
    text = text.replace("→", "->").encode("ascii", "replace").decode()
    text = text.replace("\\", "\\\\").replace('"', '\\"')[:_WARNING_LIMIT]
    rule = decision.rule or "no matching rule"
    return [f'299 - "gatekeeper: would deny: {rule}: {text}"']


def enforce(decision: Decision, digest: str, reference: str) -> list[str]:
    """Raise DENIED when the decision refuses; else return Warning headers to add."""
    if decision.refused:
        raise refusal(decision, digest, reference)
    return warning_headers(decision)


def refuse_denied_repository(policy: Policy, repository: str, reference: str) -> None:
    """Every request to a repository under a deny rule (or no rule) is refused, not only
    manifests: tag lists, blobs, uploads, referrers and deletes too. Enforce mode only:
    dry-run never blocks (manifest pulls and pushes still warn and log)."""
    decision = decide_repository(policy, repository)
    if decision is not None and decision.refused:
        raise refusal(decision, reference if ":" in reference else "", reference)

"""The one place where a Decision turns into a response: refuse, warn, or let through.

The same Decision is computed in every mode; only here does the mode act. Every refusal
(and every would-deny in dry-run) is written to the decision log here, before the
response leaves: manifest decisions always, other request kinds when they refuse. Every
decision, logged or not, is counted here (``gatekeeper_decisions_total``).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from gatekeeper.admission.admit import Admission
from gatekeeper.admission.deps import Deps
from gatekeeper.errors import Denied
from gatekeeper.metrics import count_decision
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import AdmissionRequest
from gatekeeper.policy.model import Action, Mode, Outcome
from gatekeeper.server.client_info import client_of

# RFC 9111 §5.5 warn-code 299 "Miscellaneous persistent warning"; the distribution spec
# lets registries send it and containerd prints it.
_WARNING_LIMIT = 400
_STARTED = "gatekeeper.started"


def mark_start(request: web.Request) -> None:
    """Remember when handling began, for the decision log's ``duration_ms``."""
    request[_STARTED] = time.perf_counter()


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
        "codes": list(decision.codes),
        "digest": digest,
        "reference": reference,
    }
    return Denied(message, detail)


def warning_headers(decision: Decision) -> list[str]:
    """``Warning`` header values for a would-deny decision (dry-run) and for logged-only
    failures (Notation audit level); empty otherwise."""
    if decision.refused:
        return []
    headers = [_warning(decision, "warning", text) for text in decision.warnings[:4]]
    if decision.outcome is Outcome.ALLOW:
        return headers
    return [_warning(decision, "would deny", "; ".join(decision.reasons)), *headers]


def _warning(decision: Decision, kind: str, text: str) -> str:
    text = text or "refused by policy"
    # Header values are Latin-1 on the wire; keep them plain ASCII (→ is common in reasons).
    text = text.replace("→", "->").encode("ascii", "replace").decode()
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    if len(text) > _WARNING_LIMIT:
        text = text[: _WARNING_LIMIT - 3].rstrip("\\") + "..."
    rule = decision.rule or "no matching rule"
    return f'299 - "gatekeeper: {kind}: {rule}: {text}"'


def conclude(
    request: web.Request, deps: Deps, admission: Admission, *, final: bool = True
) -> list[str]:
    """Log the decision, then refuse (raise DENIED) or return the Warning headers to add.

    ``final=False`` for the repository gate asked before a manifest is fetched: it is
    logged only when it refuses, since the manifest's own decision (logged whatever it
    says) follows otherwise.
    """
    decision = admission.decision
    asked = admission.request
    if final:
        logged = asked.action.is_manifest or decision.outcome is Outcome.DENY
    else:
        logged = decision.refused
    if logged:
        log_decision(request, deps, admission)
    elif final:
        count_decision(asked.action, decision)
    if decision.refused:
        digest = asked.digest or (asked.reference if ":" in asked.reference else "")
        raise refusal(decision, digest, asked.reference)
    return warning_headers(decision)


def log_decision(request: web.Request, deps: Deps, admission: Admission) -> None:
    """Write the decision-log line for ``admission`` (before its response is sent)."""
    count_decision(admission.request.action, admission.decision)
    deps.decisions.write(
        admission.request,
        admission.decision,
        client_of(request, deps.settings.trusted_proxies),
        _elapsed(request),
    )


def _elapsed(request: web.Request) -> float:
    started = request.get(_STARTED)
    return (time.perf_counter() - started) * 1000 if isinstance(started, float) else 0.0


def refuse_unchecked(
    request: web.Request,
    deps: Deps,
    action: Action,
    repository: str,
    reference: str,
    code: str,
    message: str,
    detail: dict[str, Any] | None = None,
) -> Denied:
    """Log and return DENIED for a refusal that precedes any policy question.

    Integrity mismatches (the upstream sent other bytes than were asked for) and mirror
    routing failures (a registry not mirrored here) are not policy decisions, but they are
    refusals, and every refusal reaches the decision log with a stable code.
    """
    decision = Decision(Outcome.DENY, None, Mode.ENFORCE, (message,), (), (code,))
    asked = AdmissionRequest(action, repository, reference, now=deps.clock())
    count_decision(action, decision)
    deps.decisions.write(
        asked, decision, client_of(request, deps.settings.trusted_proxies), _elapsed(request)
    )
    return Denied(f"gatekeeper: {message}", {"codes": [code], **(detail or {})})

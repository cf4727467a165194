"""``decide()``: the pure decision core. Evidence in, Decision out; no I/O.

The order of questions: which rule matches (none: deny); is the rule a deny rule; is the
manifest an artifact attached to an image (its subject decides elsewhere); do the tag
rules pass; on pull, does the evidence pass. Every failing check is reported, not only the
first, each with a hint.
"""

from __future__ import annotations

from gatekeeper.policy.checks import CheckResult, note, refuse
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import AdmissionRequest, Evidence
from gatekeeper.policy.evidence_checks import check_evidence
from gatekeeper.policy.model import Action, EvidenceKind, Outcome, Policy, Rule, RuleAction
from gatekeeper.policy.tag_checks import check_tags


def decide(policy: Policy, request: AdmissionRequest, evidence: Evidence) -> Decision:
    """Decide one pull or push of one manifest under ``policy``."""
    blocked = decide_repository(policy, request.repository)
    if blocked is not None:
        return blocked
    rule = policy.match(request.repository)
    assert rule is not None  # decide_repository refused every repository without a rule
    return _decision(policy, rule, _check(rule, request, evidence))


def decide_repository(policy: Policy, repository: str) -> Decision | None:
    """A DENY decision when the repository itself is off-limits (no rule, or a deny rule).

    Used for manifests by :func:`decide` and, by the server, for every other request to the
    repository (tag lists, blobs, uploads, deletes). None when its rule admits requests.
    """
    rule = policy.match(repository)
    if rule is None:
        result = refuse(
            f"no policy rule matches repository {repository}",
            f"add a rule for {repository} to the policy",
        )
        return _decision(policy, None, result)
    if rule.action is RuleAction.DENY:
        result = refuse(
            f"repository {repository} is denied by rule '{rule.name}'",
            f"ask the policy owners for a rule admitting {repository} before '{rule.name}'",
        )
        return _decision(policy, rule, result)
    return None


def _check(rule: Rule, request: AdmissionRequest, evidence: Evidence) -> CheckResult:
    if request.subject is not None:
        # Signatures, attestations and SBOMs are not signed or scanned themselves, and
        # their fallback tags (sha256-….sig) would trip tag rules written for images.
        return note(
            f"artifact attached to {request.subject}: tag and evidence checks apply to its subject"
        )
    result = check_tags(rule.tags, request)
    if request.action is Action.PULL:
        return result + check_evidence(rule, request, evidence)
    if rule.needs:
        # At push time nothing can have signed or scanned these bytes yet.
        kinds = ", ".join(kind.value for kind in EvidenceKind if kind in rule.needs)
        result += note(f"{kinds} checks run on pull, not on push")
    return result


def _decision(policy: Policy, rule: Rule | None, result: CheckResult) -> Decision:
    mode = policy.mode_for(rule)
    name = None if rule is None else rule.name
    if not result.refusals:
        return Decision(Outcome.ALLOW, name, mode, result.notes)
    reasons = tuple(dict.fromkeys(refusal.reason for refusal in result.refusals))
    hints = tuple(dict.fromkeys(hint for refusal in result.refusals for hint in refusal.hints))
    return Decision(Outcome.DENY, name, mode, reasons, hints)

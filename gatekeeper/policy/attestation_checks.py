"""Attestation requirement checks (pull only): a trusted statement must satisfy each one."""

from __future__ import annotations

from gatekeeper.policy.attestation_evidence import (
    AttestationsEvidence,
    RequirementEvidence,
    StatementResult,
)
from gatekeeper.policy.attestation_model import AttestationRequirement
from gatekeeper.policy.checks import CheckResult, combine, note, refuse
from gatekeeper.policy.evidence import AdmissionRequest

SHOWN = 3  # statements and problems a refusal quotes; the rest are counted


def check_attestations(
    requirements: tuple[AttestationRequirement, ...],
    evidence: AttestationsEvidence,
    request: AdmissionRequest,
) -> CheckResult:
    """Every requirement needs one verified statement for which all conditions hold."""
    found = {item.name: item for item in evidence.requirements}
    return combine(_check_one(req, found.get(req.name), request) for req in requirements)


def _check_one(
    requirement: AttestationRequirement,
    evidence: RequirementEvidence | None,
    request: AdmissionRequest,
) -> CheckResult:
    label = f"attestation '{requirement.name}' ({requirement.predicate_type})"
    if evidence is None or evidence.predicate_type != requirement.predicate_type:
        return refuse(
            f"{label}: evidence could not be gathered",
            "gatekeeper fails closed when it cannot gather evidence: check its log",
            code="evidence-unavailable",
        )
    passed = evidence.satisfied_by
    if passed is not None:
        return note(f"{label}: satisfied by {passed.source} (signed by {passed.signer})")
    if evidence.statements:
        failures = "; ".join(_failure(item) for item in evidence.statements[:SHOWN])
        more = _more(len(evidence.statements), "statements")
        return refuse(
            f"{label}: no verified statement satisfies the conditions: {failures}{more}",
            f"attest {request.repository}@{request.digest} with a statement that satisfies"
            f" the conditions of '{requirement.name}'",
            code="attestation-unsatisfied",
        )
    where = ", ".join(evidence.looked_at)
    reason = f"{label}: no statement about {request.digest} signed by a trusted signer"
    if evidence.problems:
        reason += f": {'; '.join(evidence.problems[:SHOWN])}{_more(len(evidence.problems))}"
    elif where:
        reason += f" (looked at {where})"
    return refuse(
        reason,
        f"attest {request.repository}@{request.digest} ({requirement.predicate_type}) with a"
        f" key or identity that '{requirement.name}' trusts",
        code="attestation-missing",
    )


def _failure(item: StatementResult) -> str:
    seen = f"; saw {', '.join(item.seen)}" if item.seen else ""
    return f"{item.source} (signed by {item.signer}): `{item.failed}` was {item.reason}{seen}"


def _more(count: int, what: str = "problems") -> str:
    return f"; … and {count - SHOWN} more {what}" if count > SHOWN else ""

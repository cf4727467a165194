"""Checks against gathered evidence (pull only): signatures, scan verdicts, image facts,
attestations.

A kind of evidence the rule needs but that could not be gathered refuses the request:
the gate fails closed.
"""

from __future__ import annotations

from gatekeeper.policy.attestation_checks import check_attestations
from gatekeeper.policy.checks import CheckResult, combine, note, plural, refuse, warn
from gatekeeper.policy.evidence import AdmissionRequest, Evidence, SignatureEvidence
from gatekeeper.policy.image_checks import check_image
from gatekeeper.policy.model import EvidenceKind, Rule, SignaturePolicy
from gatekeeper.policy.provenance_bases import signed_bases
from gatekeeper.policy.scan_checks import check_scan

_MISSING_HINT = (
    "gatekeeper fails closed when it cannot gather evidence: check its log and the"
    " upstream registry, then retry"
)


def check_evidence(rule: Rule, request: AdmissionRequest, evidence: Evidence) -> CheckResult:
    """Every evidence check ``rule`` asks for, in a fixed order."""
    # EvidenceKind's declaration order keeps reasons in a stable, documented order.
    return combine(
        _check_kind(kind, rule, request, evidence) for kind in EvidenceKind if kind in rule.needs
    )


def _check_kind(
    kind: EvidenceKind, rule: Rule, request: AdmissionRequest, evidence: Evidence
) -> CheckResult:
    missing = refuse(
        f"{kind.value} evidence could not be gathered", _MISSING_HINT, code="evidence-unavailable"
    )
    if kind is EvidenceKind.SIGNATURES:
        if evidence.signatures is None or rule.signatures is None:
            return missing
        return check_signatures(rule.signatures, evidence.signatures, request)
    if kind is EvidenceKind.SCAN:
        if evidence.scan is None or rule.scan is None:
            return missing
        return check_scan(rule.scan, evidence.scan, request)
    if kind is EvidenceKind.ATTESTATIONS:
        if evidence.attestations is None or not rule.attestations:
            return missing
        return check_attestations(rule.attestations, evidence.attestations, request)
    if evidence.image is None or rule.image is None:
        return missing
    bases = signed_bases(rule.attestations, evidence.attestations)
    return check_image(rule.image, evidence.image, request.now, bases)


def check_signatures(
    policy: SignaturePolicy, evidence: SignatureEvidence, request: AdmissionRequest
) -> CheckResult:
    """At least ``threshold`` distinct trusted signers must have verified.

    Logged-only failures (a Notation part at level audit or permissive) ride along as
    warnings; a policy whose only part is an audit-level Notation one has threshold 0.
    """
    signers = tuple(dict.fromkeys(evidence.signers))
    warnings = warn(*evidence.warnings)
    threshold = policy.threshold_for(request.repository)
    if len(signers) >= threshold:
        if not signers:
            return warnings + note("notation level audit: signatures are logged, not enforced")
        return warnings + note(f"signed by {', '.join(signers)}")
    hint = f"sign {request.repository}@{request.digest} with a key or identity the policy trusts"
    reasons = list(evidence.problems)
    if signers:
        verified = plural(len(signers), "trusted signature")
        reasons.insert(
            0, f"{verified} of the {threshold} required (signed by {', '.join(signers)})"
        )
    elif not reasons:
        where = f" (looked at {', '.join(evidence.looked_at)})" if evidence.looked_at else ""
        reasons.append(f"no signature found{where}")
    return warnings + combine(refuse(reason, hint, code="signature-missing") for reason in reasons)

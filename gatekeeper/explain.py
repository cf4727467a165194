"""``gatekeeper evaluate --explain``: per requirement, each candidate found, what verified,
and why each of the others did not count. Lays out the evidence the decision was made on;
judges nothing itself."""

from __future__ import annotations

from gatekeeper.admission.admit import Admission
from gatekeeper.policy.attestation_evidence import RequirementEvidence
from gatekeeper.policy.evidence import ScanEvidence, SignatureEvidence
from gatekeeper.policy.model import Rule
from gatekeeper.policy.vex_evidence import VexEvidence


def explain(admission: Admission) -> list[str]:
    """Indented lines describing the evidence behind ``admission.decision``."""
    rule = admission.policy.match(admission.request.repository)
    if rule is None:
        return ["no rule matches: nothing was gathered"]
    evidence = admission.evidence
    lines: list[str] = []
    if admission.request.inherited_from is not None:
        lines.append(
            f"inherits signatures and attestations from index {admission.request.inherited_from}"
        )
    if rule.signatures is not None:
        lines += _signatures(rule, evidence.signatures)
    for index, requirement in enumerate(rule.attestations):
        found = None
        if evidence.attestations is not None:
            found = next(
                (r for r in evidence.attestations.requirements if r.name == requirement.name),
                None,
            )
        lines += _requirement(requirement.name, requirement.predicate_type, found, index)
    if rule.scan is not None:
        lines += _scan(evidence.scan, rule.scan.vex is not None)
    if rule.image is not None:
        lines.append("image config: " + ("read" if evidence.image is not None else "NOT GATHERED"))
    return lines or ["the rule needs no evidence"]


def _signatures(rule: Rule, found: SignatureEvidence | None) -> list[str]:
    assert rule.signatures is not None
    head = f"signatures (threshold {rule.signatures.threshold}):"
    if found is None:
        return [head, "  NOT GATHERED (see the log)"]
    lines = [head, f"  looked at: {', '.join(found.looked_at) or 'nothing'}"]
    lines += [f"  verified: {signer}" for signer in found.signers]
    lines += [f"  did not count: {problem}" for problem in found.problems]
    if not found.signers and not found.problems:
        lines.append("  no candidate found")
    return lines


def _requirement(
    name: str, predicate_type: str, found: RequirementEvidence | None, index: int
) -> list[str]:
    head = f"attestation '{name}' ({predicate_type}):"
    if found is None:
        return [head, "  NOT GATHERED (see the log)"]
    lines = [head, f"  looked at: {', '.join(found.looked_at) or 'nothing'}"]
    for item in found.statements:
        if item.failed is None:
            lines.append(f"  satisfied: {item.source}, signed by {item.signer}")
            continue
        seen = f"; saw {', '.join(item.seen)}" if item.seen else ""
        lines.append(
            f"  verified, conditions failed: {item.source}, signed by {item.signer}:"
            f" `{item.failed}` was {item.reason}{seen}"
        )
    lines += [f"  did not verify: {problem}" for problem in found.problems]
    if not found.statements and not found.problems:
        lines.append("  no candidate found")
    return lines


def _scan(found: ScanEvidence | None, with_vex: bool) -> list[str]:
    if found is None:
        return ["scan:", "  NOT GATHERED (see the log)"]
    verdict = found.verdict
    lines = ["scan:"]
    if verdict is None:
        lines.append(f"  no verdict (looked at: {found.note or 'nothing'})")
    else:
        when = f", created {verdict.created:%Y-%m-%dT%H:%M:%SZ}" if verdict.created else ""
        lines.append(f"  verdict: {verdict.source}{when}, {len(verdict.findings)} findings")
    if with_vex:
        lines += _vex(found.vex)
    return lines


def _vex(found: VexEvidence | None) -> list[str]:
    if found is None:
        return ["  VEX: NOT GATHERED"]
    lines = [
        f"  VEX: {s.vulnerability} {s.status} from {s.source}, signed by {s.signer}"
        for s in found.statements
    ]
    if found.note:
        lines.append(f"  VEX: {found.note}")
    return lines or ["  VEX: no statements about this image"]

"""``evaluate --explain`` lays out the evidence a decision was made on."""

from __future__ import annotations

from gatekeeper.admission.admit import Admission
from gatekeeper.explain import explain
from gatekeeper.policy.decide import decide
from gatekeeper.policy.evidence import (
    AdmissionRequest,
    Evidence,
    Finding,
    ScanEvidence,
    ScanVerdict,
    SignatureEvidence,
)
from gatekeeper.policy.fingerprint import policy_fingerprint
from gatekeeper.policy.globs import compile_repository_glob
from gatekeeper.policy.model import Action, Mode, Policy, Rule, ScanPolicy, SignaturePolicy
from gatekeeper.policy.vex_evidence import VexEvidence, VexStatement
from gatekeeper.policy.vex_model import VexPolicy

DIGEST = "sha256:" + "ab" * 32


def admission(evidence: Evidence) -> Admission:
    rule = Rule(
        "r",
        ("app",),
        (compile_repository_glob("app"),),
        signatures=SignaturePolicy(),
        scan=ScanPolicy(vex=VexPolicy(SignaturePolicy())),
    )
    policy = Policy(Mode.ENFORCE, (rule,), policy_fingerprint(Mode.ENFORCE, (rule,)))
    request = AdmissionRequest(Action.PULL, "app", "1.0", DIGEST)
    return Admission(request, decide(policy, request, evidence), None, policy, evidence)


def test_explain_lists_candidates_verdict_and_vex() -> None:
    verdict = ScanVerdict(
        DIGEST, "trivy report r.json", None, (Finding("CVE-1", "p", "1", None, "LOW"),)
    )
    vex = VexEvidence(
        (VexStatement("CVE-1", "not_affected", "tag a.att statement 0", "key k"),),
        "not counted: tag a.att: signed, but not by a trusted key",
    )
    evidence = Evidence(
        signatures=SignatureEvidence(
            ("key k",), ("tag s.sig", "referrers"), ("referrer x: bundle is empty",)
        ),
        scan=ScanEvidence(verdict, vex=vex),
    )
    lines = explain(admission(evidence))
    assert lines == [
        "signatures (threshold 1):",
        "  looked at: tag s.sig, referrers",
        "  verified: key k",
        "  did not count: referrer x: bundle is empty",
        "scan:",
        "  verdict: trivy report r.json, 1 findings",
        "  VEX: CVE-1 not_affected from tag a.att statement 0, signed by key k",
        "  VEX: not counted: tag a.att: signed, but not by a trusted key",
    ]


def test_explain_says_what_was_not_gathered() -> None:
    lines = explain(admission(Evidence()))
    assert lines == [
        "signatures (threshold 1):",
        "  NOT GATHERED (see the log)",
        "scan:",
        "  NOT GATHERED (see the log)",
    ]

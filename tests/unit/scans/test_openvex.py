"""OpenVEX documents: which statements are about an image, and how they answer findings."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from gatekeeper.policy.evidence import AdmissionRequest, Finding, ScanEvidence, ScanVerdict
from gatekeeper.policy.model import Action, ScanPolicy, SignaturePolicy
from gatekeeper.policy.scan_checks import check_scan
from gatekeeper.policy.vex_checks import apply_vex
from gatekeeper.policy.vex_evidence import VexEvidence
from gatekeeper.policy.vex_model import VexPolicy
from gatekeeper.scans.openvex import VexProblem, image_statements
from tests.helpers import vex

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "vex"
ALPINE = "sha256:f271e74b17ced29b915d351685fd4644785c6d1559dd1f2d4189a5e851ef753a"
IMAGE = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
BZ2 = Finding("CVE-2019-12900", "libbz2", "1.0.6-8.1", "1.0.6-8.1+deb10u1", "CRITICAL")
KRB = Finding("CVE-2020-28196", "krb5-libs", "1.15.1", "1.15.1-50", "HIGH")


def read(name: str) -> object:
    return json.loads((ASSETS / name).read_bytes())


def statements(doc: object, digest: str = IMAGE) -> VexEvidence:
    found, _ = image_statements(doc, digest, "tag x.att", "key k")
    return VexEvidence(tuple(found))


def test_a_real_v001_document_counts_only_its_digest_product() -> None:
    found, problems = image_statements(read("images.vex.json"), ALPINE, "tag x.att", "key k")
    assert problems == []
    (only,) = found  # "nginx", a tag and a tag purl do not name these bytes
    assert (only.vulnerability, only.status) == ("CVE-1234-5678", "under_investigation")
    assert only.timestamp is not None


def test_a_real_document_about_packages_says_nothing_about_an_image() -> None:
    assert image_statements(read("demo.vex.json"), IMAGE, "s", "k") == ([], [])


def test_garbage_is_a_problem_not_a_crash() -> None:
    with pytest.raises(VexProblem):
        image_statements({"statements": "x"}, IMAGE, "s", "k")
    doc = vex.document(
        {"products": [{"@id": IMAGE}], "status": "bogus", "vulnerability": {"name": "X"}}
    )
    found, problems = image_statements(doc, IMAGE, "s", "k")
    assert found == []
    assert problems == ["s statement 0: unknown status 'bogus'"]


@pytest.mark.parametrize(
    ("items", "kept"),
    [
        ([vex.statement("CVE-2019-12900", "not_affected", IMAGE)], [KRB]),
        ([vex.statement("CVE-2019-12900", "fixed", IMAGE)], [KRB]),
        ([vex.statement("CVE-2019-12900", "under_investigation", IMAGE)], [BZ2, KRB]),
        ([vex.statement("CVE-2019-12900", "affected", IMAGE)], [BZ2, KRB]),
        ([vex.statement("CVE-2019-12900", "not_affected", OTHER)], [BZ2, KRB]),
        ([vex.statement("cve-2019-12900", "not_affected", IMAGE)], [KRB]),
        (
            [
                vex.statement("CVE-2019-12900", "not_affected", IMAGE),
                vex.statement("CVE-2019-12900", "affected", IMAGE, timestamp="2026-11-02T00:00Z"),
            ],
            [BZ2, KRB],
        ),
        (
            [
                vex.statement("CVE-2019-12900", "under_investigation", IMAGE),
                vex.statement(
                    "CVE-2019-12900", "not_affected", IMAGE, timestamp="2026-11-02T00:00:00Z"
                ),
            ],
            [KRB],
        ),
        (  # a tie: the statement that does not suppress wins
            [
                vex.statement("CVE-2019-12900", "not_affected", IMAGE),
                vex.statement("CVE-2019-12900", "affected", IMAGE),
            ],
            [BZ2, KRB],
        ),
        (
            [
                vex.statement(
                    "CVE-2019-12900",
                    "not_affected",
                    IMAGE,
                    subcomponents=["pkg:deb/debian/libbz2@1.0.6-8.1?arch=amd64"],
                )
            ],
            [KRB],
        ),
        (
            [
                vex.statement(
                    "CVE-2019-12900",
                    "not_affected",
                    IMAGE,
                    subcomponents=["pkg:deb/debian/bzip2@1.0.6-8.1"],
                )
            ],
            [BZ2, KRB],
        ),
    ],
)
def test_vex_answers_exactly_the_named_vulnerability_for_the_named_product(
    items: list[dict[str, object]], kept: list[Finding]
) -> None:
    remaining, answered = apply_vex(statements(vex.document(*items)), [BZ2, KRB])
    assert remaining == kept
    assert len(answered) == 2 - len(kept)


def request() -> AdmissionRequest:
    return AdmissionRequest(Action.PULL, "app", "1.0", IMAGE)


VERDICT = ScanVerdict(IMAGE, "trivy report r.json", None, (BZ2, KRB))
SUPPRESS_BZ2 = vex.document(vex.statement("CVE-2019-12900", "not_affected", IMAGE))


def test_check_scan_names_the_statement_that_answered() -> None:
    policy = ScanPolicy(deny_severities=("CRITICAL",), vex=VexPolicy(SignaturePolicy()))
    result = check_scan(policy, ScanEvidence(VERDICT, vex=statements(SUPPRESS_BZ2)), request())
    assert result.refusals == ()
    assert (
        "CVE-2019-12900 in libbz2 answered by VEX not_affected"
        " (vulnerable_code_not_in_execute_path) from tag x.att statement 0, signed by key k"
    ) in result.notes


def test_the_rest_still_refuses_and_the_refusal_says_what_vex_answered() -> None:
    policy = ScanPolicy(deny_severities=("CRITICAL", "HIGH"), vex=VexPolicy(SignaturePolicy()))
    result = check_scan(policy, ScanEvidence(VERDICT, vex=statements(SUPPRESS_BZ2)), request())
    (refusal,) = result.refusals
    assert "CVE-2020-28196 in krb5-libs" in refusal.reason
    assert "blocking vulnerabilities: CVE-2019-12900" not in refusal.reason
    assert "[CVE-2019-12900 in libbz2 answered by VEX not_affected" in refusal.reason


def test_without_scan_vex_statements_answer_nothing() -> None:
    policy = ScanPolicy(deny_severities=("CRITICAL",))
    result = check_scan(policy, ScanEvidence(VERDICT, vex=statements(SUPPRESS_BZ2)), request())
    assert result.refusals[0].code == "scan-vulnerable"


def test_unreadable_vex_answers_nothing() -> None:
    policy = ScanPolicy(deny_severities=("CRITICAL",), vex=VexPolicy(SignaturePolicy()))
    evidence = ScanEvidence(VERDICT, vex=VexEvidence((), "not read: upstream failed"))
    result = check_scan(policy, evidence, request())
    assert result.refusals[0].code == "scan-vulnerable"
    assert "VEX: not read: upstream failed" in result.notes


def test_nanosecond_timestamps_are_read() -> None:
    doc = read("demo.vex.json")
    assert isinstance(doc, dict)
    doc["statements"][0]["products"].append({"@id": IMAGE})
    (found,) = statements(doc).statements
    assert found.timestamp is not None and found.timestamp.date() == date(2023, 12, 4)

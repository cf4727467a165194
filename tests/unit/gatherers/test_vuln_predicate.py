"""cosign's vuln predicate → ScanVerdict: findings, the subject's digest, which time counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.gatherers.vuln_predicate import (
    VulnPredicateError,
    scope_suffix,
    verdict_from_statement,
)
from gatekeeper.trust.attestations import VerifiedStatement
from tests.helpers import attest

TRIVY = Path(__file__).resolve().parents[2] / "assets" / "trivy"
DEBIAN = json.loads((TRIVY / "debian-buster.json").read_bytes())  # CRITICAL + LOW, CreatedAt
MANY = json.loads((TRIVY / "scheme_2_many_vulns.json").read_bytes())  # no dates
DIGEST = "sha256:" + "ab" * 32
FINISHED = datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def verified(predicate: Any, source: str = "tag sha256-ab.att") -> VerifiedStatement:
    """As the trust code hands it over: the statement cosign signs, parsed."""
    statement = json.loads(attest.vuln_statement(DIGEST, "r/app", predicate))
    return VerifiedStatement(source, "key 0123456789abcdef", statement, b"")


def raw(predicate: Any) -> VerifiedStatement:
    """A statement with any predicate at all (the helper builds only well-formed ones)."""
    statement = {
        "_type": attest.STATEMENT_V01,
        "predicateType": attest.VULN,
        "predicate": predicate,
    }
    return VerifiedStatement("tag x.att", "key k", statement, b"")


def test_a_trivy_result_becomes_the_images_verdict() -> None:
    elsewhere = dict(DEBIAN, Metadata={"RepoDigests": ["other/app@sha256:" + "cd" * 32]})
    verdict = verdict_from_statement(
        verified(attest.vuln_predicate(elsewhere, finished=FINISHED)), DIGEST, "5c0e", NOW
    )
    assert verdict.digest == DIGEST  # the report's RepoDigests name another image: ignored
    assert verdict.created == FINISHED
    critical = [f for f in verdict.findings if f.severity == "CRITICAL"]
    assert [(f.id, f.package, f.fixed) for f in critical] == [
        ("CVE-2019-18224", "libidn2-0", "2.0.5-1+deb10u1")
    ]
    assert verdict.source == (
        "attestation sha256-ab.att (signed by key 0123456789abcdef; trust scope 5c0e)"
    )
    assert verdict.source.endswith(scope_suffix("5c0e"))


def test_a_report_without_repo_digests_still_belongs_to_the_subject() -> None:
    report = {k: v for k, v in DEBIAN.items() if k != "Metadata"}
    verdict = verdict_from_statement(
        verified(attest.vuln_predicate(report, finished=FINISHED)), DIGEST, "s", NOW
    )
    assert verdict.digest == DIGEST and verdict.findings


@pytest.mark.parametrize(
    ("report", "created"),
    [
        (DEBIAN, datetime.fromisoformat(DEBIAN["CreatedAt"])),  # Go zero time → CreatedAt
        (MANY, NOW),  # neither: the moment of verification
    ],
)
def test_created_falls_back_when_scan_finished_on_is_go_zero_time(
    report: dict[str, Any], created: datetime
) -> None:
    predicate = attest.vuln_predicate(report, finished=None)
    assert predicate["metadata"]["scanFinishedOn"] == "0001-01-01T00:00:00Z"
    assert verdict_from_statement(verified(predicate), DIGEST, "s", NOW).created == created


def _predicate(**changes: Any) -> dict[str, Any]:
    predicate = attest.vuln_predicate(DEBIAN, finished=FINISHED)
    for path, value in changes.items():
        section, _, key = path.partition("__")
        if key:
            predicate[section][key] = value
        else:
            predicate[section] = value
    return predicate


@pytest.mark.parametrize(
    ("predicate", "reason"),
    [
        (_predicate(scanner=None), "predicate.scanner is missing, not an object"),
        (_predicate(scanner__result="{}"), "predicate.scanner.result is a str, not an object"),
        (
            _predicate(scanner__result={"SchemaVersion": 1}),
            "predicate.scanner.result is not a usable Trivy report: SchemaVersion is 1",
        ),
        (
            _predicate(scanner__result=dict(DEBIAN, Results=[{"Vulnerabilities": [{}]}])),
            "predicate.scanner.result is not a usable Trivy report:"
            " Results[0].Vulnerabilities[0]: VulnerabilityID is missing",
        ),
        (_predicate(metadata=[]), "predicate.metadata is a list, not an object"),
        (
            _predicate(metadata__scanFinishedOn="yesterday"),
            "predicate.metadata.scanFinishedOn is not an RFC 3339 timestamp",
        ),
    ],
)
def test_unusable_predicates_are_errors(predicate: dict[str, Any], reason: str) -> None:
    with pytest.raises(VulnPredicateError) as caught:
        verdict_from_statement(raw(predicate), DIGEST, "s", NOW)
    assert caught.value.message.startswith(reason)


def test_a_statement_without_a_predicate() -> None:
    with pytest.raises(VulnPredicateError, match="predicate is missing"):
        verdict_from_statement(raw(None), DIGEST, "s", NOW)

"""show_verdict: the verdict laid out, with the policy core's judgement."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from gatekeeper.policy.model import IgnoredVulnerability, ScanPolicy
from gatekeeper.scans.show import show_verdict
from gatekeeper.scans.trivy import parse_trivy_report
from tests.unit.scans.conftest import DEBIAN, MANY, digest_for, retarget

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DIGEST = digest_for("shown")
DEBIAN_VERDICT = parse_trivy_report(retarget(DEBIAN, DIGEST)).verdicts("trivy report d.json")[0]
MANY_VERDICT = parse_trivy_report(retarget(MANY, DIGEST), mtime=NOW - timedelta(hours=2)).verdicts(
    "trivy report m.json"
)[0]


def test_a_critical_finding_refuses_and_is_listed_as_blocking() -> None:
    text = show_verdict(DEBIAN_VERDICT, ScanPolicy(), NOW)
    assert f"digest:   {DIGEST}" in text
    assert "verdict:  trivy report d.json" in text
    assert "created:  2021-08-25T12:20:30Z (1740d ago)" in text
    assert "findings: 2 (CRITICAL 1, LOW 1)" in text
    assert "blocking (scan.deny_severities CRITICAL): 1" in text
    assert "CRITICAL CVE-2019-18224 in libidn2-0 2.0.5-1 → 2.0.5-1+deb10u1" in text
    assert "result:   REFUSED" in text
    assert "hint: upgrade the affected packages" in text


def test_an_ignored_finding_passes_and_says_why() -> None:
    policy = ScanPolicy(
        deny_severities=("CRITICAL", "HIGH"),
        ignore=(
            IgnoredVulnerability("CVE-2019-12900", "not reachable in our use", date(2027, 6, 30)),
            IgnoredVulnerability("CVE-2020-28196", "kerberos unused", None),
        ),
    )
    text = show_verdict(MANY_VERDICT, policy, NOW)
    assert "created:  2026-05-31T22:00:00Z (2h ago)" in text
    assert "blocking (" not in text
    assert "excused by scan.ignore: 2" in text
    assert "CVE-2019-12900 in libbz2 1.0.6-r6 → 1.0.6-r7  (not reachable in our use, until" in text
    assert "result:   PASSES" in text
    after_expiry = show_verdict(MANY_VERDICT, policy, datetime(2027, 7, 1, tzinfo=UTC))
    assert "result:   REFUSED" in after_expiry
    assert "the scan.ignore entry for CVE-2019-12900 expired on 2027-06-30" in after_expiry


def test_unfixed_findings_excused_by_ignore_unfixed_are_listed() -> None:
    policy = ScanPolicy(deny_severities=("LOW",), ignore_unfixed=True)
    text = show_verdict(DEBIAN_VERDICT, policy, NOW)
    assert "excused by scan.ignore_unfixed (no fixed version): 1" in text
    assert "LOW      CVE-2019-18276 in bash 5.0-4 → no fix" in text
    assert "result:   PASSES" in text


def test_no_verdict_refuses_when_one_is_required_and_passes_otherwise() -> None:
    note = "reports in /var/lib/verdicts"
    text = show_verdict(None, ScanPolicy(), NOW, digest=DIGEST, repository="team/app", note=note)
    assert "result:   REFUSED" in text
    assert f"no vulnerability verdict for {DIGEST} (looked at: {note})" in text
    assert f"hint: scan team/app@{DIGEST}" in text
    relaxed = show_verdict(None, ScanPolicy(require_verdict=False), NOW, digest=DIGEST)
    assert "result:   PASSES" in relaxed


def test_a_stale_verdict_counts_as_missing() -> None:
    text = show_verdict(DEBIAN_VERDICT, ScanPolicy(max_age=timedelta(days=7)), NOW)
    assert "older than scan.max_age 7d" in text
    assert "result:   REFUSED" in text


def test_long_lists_are_cut() -> None:
    many = MANY_VERDICT.__class__(
        DIGEST,
        "s",
        NOW,
        MANY_VERDICT.findings * 10,  # 50 findings, 10 CRITICAL
    )
    text = show_verdict(many, ScanPolicy(deny_severities=("CRITICAL", "MEDIUM")), NOW)
    assert "blocking (scan.deny_severities CRITICAL/MEDIUM): 40" in text
    assert "  … and 20 more" in text

"""Vulnerability verdict checks: presence, freshness, ignore entries, blocking findings."""

from __future__ import annotations

from datetime import date

from gatekeeper.policy.checks import CheckResult, as_utc, note, plural, refuse
from gatekeeper.policy.evidence import AdmissionRequest, Finding, ScanEvidence, ScanVerdict
from gatekeeper.policy.model import ScanPolicy
from gatekeeper.policy.units import format_duration
from gatekeeper.policy.vex_checks import apply_vex
from gatekeeper.policy.vex_evidence import VexEvidence

SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
LISTED_FINDINGS = 5  # a refusal names this many findings, then gives the total


def check_scan(
    policy: ScanPolicy, evidence: ScanEvidence, request: AdmissionRequest
) -> CheckResult:
    """Refuse on blocking findings, or on a missing or stale verdict when one is required."""
    verdict, missing = _usable_verdict(policy, evidence, request)
    if verdict is None:
        if policy.require_verdict:
            hint = (
                f"scan {request.repository}@{request.digest} and publish the verdict"
                " where gatekeeper looks for it"
            )
            return refuse(missing, hint, code="scan-missing")
        return note(f"{missing}; allowed because scan.require_verdict is false")
    return _check_findings(policy, verdict, as_utc(request.now).date(), evidence.vex)


def _usable_verdict(
    policy: ScanPolicy, evidence: ScanEvidence, request: AdmissionRequest
) -> tuple[ScanVerdict | None, str]:
    """The verdict if it may be used, else None and why it is treated as missing."""
    verdict = evidence.verdict
    if verdict is None:
        where = f" (looked at: {evidence.note})" if evidence.note else ""
        return None, f"no vulnerability verdict for {request.digest}{where}"
    if verdict.digest != request.digest:
        # A verdict about other bytes says nothing about these: fail closed.
        return None, (
            f"the vulnerability verdict from {verdict.source} is for {verdict.digest},"
            f" not {request.digest}; treated as missing"
        )
    if policy.max_age is None:
        return verdict, ""
    max_age = format_duration(policy.max_age)
    if verdict.created is None:
        return None, (
            f"the vulnerability verdict from {verdict.source} has no creation time, so"
            f" scan.max_age {max_age} cannot be checked; treated as missing"
        )
    created = as_utc(verdict.created)
    if created + policy.max_age < as_utc(request.now):
        return None, (
            f"the vulnerability verdict from {verdict.source} is older than scan.max_age"
            f" {max_age} (created {created:%Y-%m-%dT%H:%M:%SZ}); treated as missing"
        )
    return verdict, ""


def _check_findings(
    policy: ScanPolicy, verdict: ScanVerdict, today: date, vex: VexEvidence | None
) -> CheckResult:
    blocking = blocking_findings(policy, verdict.findings, today)
    vex_notes: list[str] = []
    if policy.vex is not None:
        # Only a rule that names VEX signers lets VEX answer anything (fail closed).
        blocking, vex_notes = apply_vex(vex, blocking)
        if vex is not None and vex.note:
            vex_notes.append(f"VEX: {vex.note}")
    answered = CheckResult(notes=tuple(vex_notes))
    if not blocking:
        return note(f"vulnerability verdict from {verdict.source}: no blocking findings") + answered
    listed = "; ".join(_describe(finding) for finding in blocking[:LISTED_FINDINGS])
    more = len(blocking) - LISTED_FINDINGS
    if more > 0:
        listed += f"; and {more} more"
    severities = "/".join(policy.deny_severities)
    reason = (
        f"blocking vulnerabilities: {listed} ({plural(len(blocking), 'finding')} at {severities})"
    )
    hint = (
        "upgrade the affected packages and rebuild, or add a reviewed scan.ignore entry"
        " with a reason and an until date"
    )
    if vex_notes:
        shown = "; ".join(vex_notes[:LISTED_FINDINGS])
        reason += f" [{shown}]"
    expired = _expired_ignores(policy, blocking, today)
    return refuse(reason, hint, *expired, code="scan-vulnerable") + answered


def blocking_findings(
    policy: ScanPolicy, findings: tuple[Finding, ...], today: date
) -> list[Finding]:
    """Findings that refuse the pull, most severe first (report order within a severity)."""
    ignored = {
        entry.id.casefold()
        for entry in policy.ignore
        if entry.until is None or entry.until >= today  # ``until`` is the last day it applies
    }
    blocking = [
        finding
        for finding in findings
        if finding.id.casefold() not in ignored
        and not (policy.ignore_unfixed and not finding.fixed)
        and finding.severity.upper() in policy.deny_severities
    ]
    return sorted(blocking, key=_severity_rank)


def _severity_rank(finding: Finding) -> int:
    severity = finding.severity.upper()
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _describe(finding: Finding) -> str:
    fixed = finding.fixed or "no fix"
    return (
        f"{finding.id} in {finding.package} {finding.installed} → {fixed}"
        f" ({finding.severity.upper()})"
    )


def _expired_ignores(policy: ScanPolicy, blocking: list[Finding], today: date) -> list[str]:
    blocking_ids = {finding.id.casefold() for finding in blocking}
    return [
        f"the scan.ignore entry for {entry.id} expired on {entry.until}: review it again"
        for entry in policy.ignore
        if entry.until is not None and entry.until < today and entry.id.casefold() in blocking_ids
    ]

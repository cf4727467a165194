"""``gatekeeper verdicts show``: the verdict gatekeeper would use, and why it passes or fails.

The judgement is the policy core's own (:func:`gatekeeper.policy.scan_checks.check_scan` and
:func:`~gatekeeper.policy.scan_checks.blocking_findings`); this module only lays it out.
Which findings ``scan.ignore`` or ``scan.ignore_unfixed`` excused is found by asking the core
again with that setting switched off, so no rule is restated here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from gatekeeper.policy.checks import as_utc
from gatekeeper.policy.evidence import AdmissionRequest, Finding, ScanEvidence, ScanVerdict
from gatekeeper.policy.model import Action, ScanPolicy
from gatekeeper.policy.scan_checks import SEVERITY_ORDER, blocking_findings, check_scan
from gatekeeper.policy.units import format_duration
from gatekeeper.policy.vex_evidence import VexEvidence

LISTED = 20  # findings listed per group; the rest are counted


def show_verdict(
    verdict: ScanVerdict | None,
    policy: ScanPolicy,
    now: datetime,
    *,
    digest: str | None = None,
    repository: str | None = None,
    note: str = "",
    vex: VexEvidence | None = None,
) -> str:
    """A human report on ``verdict`` under ``policy`` at ``now`` (several lines, no colour).

    ``digest`` is the manifest asked about (default: the verdict's); ``note`` says where
    gatekeeper looked when there is no verdict; ``vex`` holds the trusted OpenVEX statements
    about the image (``scan.vex``), and the report names the statement that answered each
    finding it took out of the blocking set.
    """
    subject = digest or (verdict.digest if verdict is not None else "(unknown digest)")
    request = AdmissionRequest(
        action=Action.PULL,
        repository=repository or "REPOSITORY",
        reference=subject,
        digest=subject,
        media_type="",
        now=now,
    )
    result = check_scan(policy, ScanEvidence(verdict, note, vex), request)
    lines = [f"digest:   {subject}"]
    if verdict is not None:
        lines += _describe_verdict(verdict, policy, now)
    if result.refusals:
        lines.append("result:   REFUSED")
        for refusal in result.refusals:
            lines.append(f"  {refusal.reason}")
            lines += [f"  hint: {hint}" for hint in refusal.hints]
    else:
        lines.append("result:   PASSES")
        lines += [f"  {text}" for text in result.notes]
    return "\n".join(lines) + "\n"


def _describe_verdict(verdict: ScanVerdict, policy: ScanPolicy, now: datetime) -> list[str]:
    lines = [f"verdict:  {verdict.source}"]
    if verdict.created is None:
        lines.append("created:  unknown")
    else:
        created = as_utc(verdict.created)
        lines.append(f"created:  {created:%Y-%m-%dT%H:%M:%SZ} ({_age(as_utc(now) - created)})")
    counts = Counter(finding.severity.upper() for finding in verdict.findings)
    summary = ", ".join(f"{sev} {counts[sev]}" for sev in SEVERITY_ORDER if counts[sev])
    lines.append(f"findings: {len(verdict.findings)}" + (f" ({summary})" if summary else ""))
    today = as_utc(now).date()
    blocking = blocking_findings(policy, verdict.findings, today)
    lines += _group(f"blocking (scan.deny_severities {'/'.join(policy.deny_severities)})", blocking)
    shown = set(map(id, blocking))
    if policy.ignore:
        excused = blocking_findings(replace(policy, ignore=()), verdict.findings, today)
        ignored = [f for f in excused if id(f) not in shown]
        lines += _group("excused by scan.ignore", ignored, _reasons(policy))
        shown |= set(map(id, ignored))
    if policy.ignore_unfixed:
        excused = blocking_findings(replace(policy, ignore_unfixed=False), verdict.findings, today)
        lines += _group(
            "excused by scan.ignore_unfixed (no fixed version)",
            [f for f in excused if id(f) not in shown],
        )
    return lines


def _age(delta: timedelta) -> str:
    """An age in its largest whole unit: ``3d ago``, ``5h ago``, ``in the future``."""
    if delta < timedelta(0):
        return "in the future"
    for unit in (timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)):
        if delta >= unit:
            return f"{format_duration(delta // unit * unit)} ago"
    return "just now"


def _reasons(policy: ScanPolicy) -> dict[str, str]:
    return {
        entry.id.casefold(): entry.reason + (f", until {entry.until}" if entry.until else "")
        for entry in policy.ignore
    }


def _group(title: str, findings: list[Finding], reasons: dict[str, str] | None = None) -> list[str]:
    if not findings:
        return []
    lines = [f"{title}: {len(findings)}"]
    for finding in findings[:LISTED]:
        fixed = finding.fixed or "no fix"
        line = (
            f"  {finding.severity.upper():8} {finding.id} in {finding.package}"
            f" {finding.installed} → {fixed}"
        )
        reason = (reasons or {}).get(finding.id.casefold())
        lines.append(line + (f"  ({reason})" if reason else ""))
    if len(findings) > LISTED:
        lines.append(f"  … and {len(findings) - LISTED} more")
    return lines

"""Signed OpenVEX statements answering vulnerability findings (pure).

A finding leaves the blocking set when the deciding statement about it is ``not_affected``
or ``fixed``. The deciding statement is the latest (by timestamp) trusted statement that
names the finding's vulnerability (or an alias) for this image and, when it lists
subcomponents, the finding's package: a later ``affected`` or ``under_investigation``
takes an earlier answer back (OpenVEX's own rule: the newest statement is current). On a
tie the statement that does not suppress wins, and a statement without a timestamp counts
as the oldest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from gatekeeper.policy.evidence import Finding
from gatekeeper.policy.vex_evidence import SUPPRESSING, VexEvidence, VexStatement

_OLDEST = datetime.min.replace(tzinfo=UTC)


def apply_vex(
    vex: VexEvidence | None, findings: Sequence[Finding]
) -> tuple[list[Finding], list[str]]:
    """The findings VEX does not answer, and one line per finding it does."""
    if vex is None or not vex.statements:
        return list(findings), []
    kept: list[Finding] = []
    answered: list[str] = []
    for finding in findings:
        statement = deciding_statement(vex.statements, finding)
        if statement is not None and statement.status in SUPPRESSING:
            answered.append(f"{finding.id} in {finding.package} answered by {statement.describe()}")
        else:
            kept.append(finding)
    return kept, answered


def deciding_statement(statements: Sequence[VexStatement], finding: Finding) -> VexStatement | None:
    """The statement that decides ``finding``, or None when none is about it."""
    relevant = [
        statement
        for statement in statements
        if statement.names(finding.id) and statement.covers(finding.package)
    ]
    if not relevant:
        return None
    return max(
        relevant,
        key=lambda s: (_utc(s.timestamp), s.status not in SUPPRESSING),
    )


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return _OLDEST
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

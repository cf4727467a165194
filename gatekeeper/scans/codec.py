"""ScanVerdict ⇄ compact JSON, as replicas share verdicts through Redis.

``{"format": 1, "digest", "source", "created": RFC 3339 | null,
"findings": [[id, package, installed, fixed | null, severity], …]}`` — findings as arrays
because a verdict may hold tens of thousands of them.
"""

from __future__ import annotations

import json
from typing import Any

from gatekeeper.policy.evidence import Finding, ScanVerdict
from gatekeeper.scans import _json
from gatekeeper.scans.errors import ScanError

FORMAT = 1


class VerdictDecodeError(ScanError):
    """A stored verdict that is not in this module's format (another version, corruption)."""


def encode_verdict(verdict: ScanVerdict) -> bytes:
    """The JSON form of ``verdict``."""
    doc = {
        "format": FORMAT,
        "digest": verdict.digest,
        "source": verdict.source,
        "created": None if verdict.created is None else verdict.created.isoformat(),
        "findings": [[f.id, f.package, f.installed, f.fixed, f.severity] for f in verdict.findings],
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def decode_verdict(data: bytes, max_bytes: int, max_findings: int = 100_000) -> ScanVerdict:
    """Parse what :func:`encode_verdict` wrote; anything else raises VerdictDecodeError."""
    doc = _json.load_object(data, "the stored verdict", max_bytes, VerdictDecodeError)
    if doc.get("format") != FORMAT:
        raise VerdictDecodeError(f"stored verdict format {doc.get('format')!r} is not {FORMAT}")
    where = "the stored verdict"
    digest = _json.digest(
        _json.text(doc, "digest", where, VerdictDecodeError) or "", where, VerdictDecodeError
    )
    source = _json.text(doc, "source", where, VerdictDecodeError) or ""
    created_at = _json.text(doc, "created", where, VerdictDecodeError, required=False)
    created = (
        None if created_at is None else _json.timestamp(created_at, "created", VerdictDecodeError)
    )
    rows = _json.array(doc, "findings", where, VerdictDecodeError, max_findings)
    return ScanVerdict(digest, source, created, tuple(_finding(row) for row in rows))


def _finding(row: Any) -> Finding:
    if (
        not isinstance(row, list)
        or len(row) != 5
        or not all(isinstance(item, str) for index, item in enumerate(row) if index != 3)
        or not (row[3] is None or isinstance(row[3], str))
    ):
        raise VerdictDecodeError("a stored finding is not [id, package, installed, fixed, sev]")
    return Finding(row[0], row[1], row[2], row[3], row[4])

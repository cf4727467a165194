"""Trivy JSON reports (schema 2) → one :class:`ScanVerdict` per manifest digest (pure).

A report belongs to the manifest digests in ``Metadata.RepoDigests`` (``repo@sha256:…``; the
repository part is ignored, because the same bytes may be pushed under many names) and, when
the caller passes a file name ``sha256-<hex>.json``, to that digest too. Findings come from
``Results[].Vulnerabilities[]`` (``VulnerabilityID``, ``PkgName``, ``InstalledVersion``,
``FixedVersion``, ``Severity``; Trivy's ``pkg/types/report.go`` and ``DetectedVulnerability``).

Limits (:class:`TrivyLimits`; a report past one is refused whole, never read in part, because
a truncated report would hide findings):

=================  ===========  ======================================================
limit              default      why
=================  ===========  ======================================================
``max_bytes``      64 MiB       real reports of large images are a few MiB
``max_findings``   100 000      across all results; real images: hundreds to thousands
``max_digests``    1 024        entries of ``Metadata.RepoDigests``
``max_results``    10 000       entries of ``Results``
``max_chars``      4 096        one string field (ids, package names, versions)
=================  ===========  ======================================================

Every malformed input — bad JSON, duplicate keys, a field of the wrong type, an unknown
severity, a bad digest — raises :class:`TrivyReportError` with the field named.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gatekeeper.policy.evidence import Finding, ScanVerdict
from gatekeeper.scans import _json
from gatekeeper.scans.errors import TrivyReportError

# Trivy's severities (pkg/types: dbTypes.SeverityNames); anything else is malformed.
SEVERITIES = frozenset({"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"})
# The file name a report may carry to name its digest, as cosign names fallback tags.
_DIGEST_FILE = re.compile(r"(sha256|sha512)-([0-9a-f]+)\.json")


@dataclass(frozen=True, slots=True)
class TrivyLimits:
    """Bounds on one report (see the module docstring)."""

    max_bytes: int = 64 * 1024 * 1024
    max_findings: int = 100_000
    max_digests: int = 1024
    max_results: int = 10_000
    max_chars: int = 4096


@dataclass(frozen=True, slots=True)
class TrivyReport:
    """What one report says: the digests it belongs to, when it was made, what it found."""

    digests: tuple[str, ...]  # sorted, distinct
    created: datetime | None
    findings: tuple[Finding, ...]  # report order

    def verdicts(self, source: str) -> tuple[ScanVerdict, ...]:
        """One verdict per digest, all from ``source`` (e.g. ``trivy report DIR/a.json``)."""
        return tuple(
            ScanVerdict(digest, source, self.created, self.findings) for digest in self.digests
        )


def digest_from_file_name(name: str) -> str | None:
    """``sha256-<hex>.json`` → ``sha256:<hex>`` (validated); any other name → None."""
    match = _DIGEST_FILE.fullmatch(name)
    if match is None:
        return None
    return _json.digest(f"{match[1]}:{match[2]}", f"file name {name}", TrivyReportError)


def parse_trivy_report(
    data: bytes,
    *,
    file_name: str | None = None,
    mtime: datetime | None = None,
    limits: TrivyLimits = TrivyLimits(),
) -> TrivyReport:
    """Parse report bytes; ``created`` is ``CreatedAt`` if present, else ``mtime``.

    Raises TrivyReportError for anything malformed, or when no digest names the report.
    """
    doc = _json.load_object(data, "the report", limits.max_bytes, TrivyReportError)
    version = doc.get("SchemaVersion")
    if version != 2 or isinstance(version, bool):
        raise TrivyReportError(
            f"SchemaVersion is {version!r}: gatekeeper reads Trivy JSON schema 2"
            " (trivy image --format json)"
        )
    digests = _digests(doc, file_name, limits)
    created_at = _json.text(doc, "CreatedAt", "the report", TrivyReportError, required=False)
    created = (
        _json.timestamp(created_at, "CreatedAt", TrivyReportError)
        if created_at is not None
        else mtime
    )
    return TrivyReport(digests, created, _findings(doc, limits))


def _digests(doc: dict[str, Any], file_name: str | None, limits: TrivyLimits) -> tuple[str, ...]:
    metadata = doc.get("Metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise TrivyReportError(f"Metadata is a {type(metadata).__name__}, not an object")
    entries = _json.array(
        metadata or {}, "RepoDigests", "Metadata", TrivyReportError, limits.max_digests
    )
    digests: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"Metadata.RepoDigests[{index}]"
        if not isinstance(entry, str):
            raise TrivyReportError(f"{where} is a {type(entry).__name__}, not a string")
        if len(entry) > limits.max_chars:
            raise TrivyReportError(f"{where} is longer than {limits.max_chars} characters")
        _, at, digest = entry.rpartition("@")
        if not at:
            raise TrivyReportError(f"{where} is {entry[:80]!r}, not repository@digest")
        digests.add(_json.digest(digest, where, TrivyReportError))
    named = digest_from_file_name(file_name) if file_name is not None else None
    if named is not None:
        digests.add(named)
    if not digests:
        raise TrivyReportError(
            "the report names no manifest digest: Metadata.RepoDigests is empty and the"
            " file is not named sha256-<hex>.json"
        )
    return tuple(sorted(digests))


def _findings(doc: dict[str, Any], limits: TrivyLimits) -> tuple[Finding, ...]:
    findings: list[Finding] = []
    results = _json.array(doc, "Results", "the report", TrivyReportError, limits.max_results)
    for r_index, result in enumerate(results):
        where = f"Results[{r_index}]"
        if not isinstance(result, dict):
            raise TrivyReportError(f"{where} is a {type(result).__name__}, not an object")
        # Counted across all results below, so one message names the one limit.
        vulns = _json.array(result, "Vulnerabilities", where, TrivyReportError, sys.maxsize)
        if len(findings) + len(vulns) > limits.max_findings:
            raise TrivyReportError(f"the report has more than {limits.max_findings} findings")
        for v_index, vuln in enumerate(vulns):
            findings.append(_finding(vuln, f"{where}.Vulnerabilities[{v_index}]", limits))
    return tuple(findings)


def _finding(vuln: Any, where: str, limits: TrivyLimits) -> Finding:
    if not isinstance(vuln, dict):
        raise TrivyReportError(f"{where} is a {type(vuln).__name__}, not an object")

    def field(key: str, required: bool) -> str | None:
        return _json.text(
            vuln, key, where, TrivyReportError, required=required, max_chars=limits.max_chars
        )

    vuln_id = field("VulnerabilityID", True) or ""
    if not vuln_id.strip():
        raise TrivyReportError(f"{where}: VulnerabilityID is empty")
    severity = (field("Severity", True) or "").upper()
    if severity not in SEVERITIES:
        raise TrivyReportError(
            f"{where}: Severity {severity[:40]!r} is not one of {', '.join(sorted(SEVERITIES))}"
        )
    return Finding(
        id=vuln_id,
        package=field("PkgName", True) or "",
        # Trivy omits empty versions (`json:",omitempty"`), e.g. for unversioned jars.
        installed=field("InstalledVersion", False) or "",
        fixed=field("FixedVersion", False) or None,
        severity=severity,
    )

"""The Harbor Pluggable Scanner API v1.2, as data: requests built, answers parsed (pure).

Spec: goharbor/pluggable-scanner-spec ``api/spec/scanner-adapter-openapi-v1.2.yaml``.
``POST /api/v1/scan`` (ScanRequest → 202 ScanResponse ``{id}``), then
``GET /api/v1/scan/{id}/report`` → ``302`` with ``Refresh-After`` until the report is ready,
then ``200`` with a HarborVulnerabilityReport (``generated_at``, ``artifact``,
``vulnerabilities[] {id, package, version, fix_version, severity}``).

Severities map onto Trivy's scale, which the policy speaks (spec ``Severity``):

============  =========  ==================================================================
Harbor        gatekeeper why
============  =========  ==================================================================
Critical      CRITICAL
High          HIGH
Medium        MEDIUM
Low           LOW
Negligible    LOW        "technically a security problem, only theoretical": the lowest
                         real severity; Trivy has no lower one
Unknown       UNKNOWN    not yet prioritised — kept distinct so policies may deny it
============  =========  ==================================================================

Any other value is outside the spec's enum and refuses the whole report (fail closed).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gatekeeper.policy.evidence import Finding, ScanVerdict
from gatekeeper.scans import _json
from gatekeeper.scans.errors import ScannerError

API_PREFIX = "/api/v1"  # the spec's ``servers: - url: /api/v1``
SCAN_REQUEST_TYPE = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
SCAN_RESPONSE_TYPE = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
REPORT_TYPE = "application/vnd.security.vulnerability.report; version=1.1"
# Both vulnerability report types share the HarborVulnerabilityReport schema.
REPORT_TYPES = frozenset(
    {
        "application/vnd.security.vulnerability.report",
        "application/vnd.scanner.adapter.vuln.report.harbor+json",
    }
)
METADATA_TYPE = "application/vnd.scanner.adapter.metadata+json; version=1.1"
ERROR_TYPE = "application/vnd.scanner.adapter.error+json; version=1.0"

SEVERITIES = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "medium": "MEDIUM",
    "low": "LOW",
    "negligible": "LOW",
    "unknown": "UNKNOWN",
}


def base_url(scanner: str) -> str:
    """The adapter's API root from a policy's ``scan.scanner`` (with or without /api/v1)."""
    url = scanner.rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def scan_request(
    registry_url: str,
    authorization: str | None,
    repository: str,
    digest: str,
    mime_type: str,
) -> bytes:
    """A ScanRequest body: where the adapter pulls from, and which artifact."""
    registry: dict[str, str] = {"url": registry_url}
    if authorization is not None:
        # Spec: "the HTTP Authorization header sent with each request to the registry".
        registry["authorization"] = authorization
    doc = {
        "registry": registry,
        "artifact": {"repository": repository, "digest": digest, "mime_type": mime_type},
    }
    return json.dumps(doc).encode()


def scan_id(data: bytes) -> str:
    """The ``id`` of a ScanResponse."""
    doc = _json.load_object(data, "the scan response", 64 * 1024, ScannerError)
    value = _json.text(doc, "id", "the scan response", ScannerError, max_chars=256) or ""
    if not value.strip():
        raise ScannerError("the scan response has an empty id")
    return value


def error_message(data: bytes) -> str:
    """The ``error.message`` of an ErrorResponse, or a short excerpt of whatever came."""
    try:
        doc = json.loads(data[: 64 * 1024])
        message = doc["error"]["message"]
        if isinstance(message, str):
            return message[:300]
    except (ValueError, RecursionError, TypeError, KeyError):
        pass
    return data[:200].decode("utf-8", "replace") or "(empty body)"


def refresh_after(value: str | None) -> float | None:
    """``Refresh-After`` in seconds (the spec: an integer), or None when absent or invalid."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def parse_report(
    data: bytes,
    *,
    digest: str,
    source: str,
    received: datetime,
    max_bytes: int,
    max_findings: int,
) -> ScanVerdict:
    """A HarborVulnerabilityReport about ``digest`` → its verdict.

    ``created`` is ``generated_at`` when present, else ``received``. A report naming
    another artifact digest is refused: it says nothing about these bytes.
    """
    doc = _json.load_object(data, "the scan report", max_bytes, ScannerError)
    where = "the scan report"
    artifact = doc.get("artifact")
    if artifact is not None:
        if not isinstance(artifact, dict):
            raise ScannerError(f"{where}: artifact is not an object")
        named = _json.text(artifact, "digest", f"{where} artifact", ScannerError, required=False)
        if named and named != digest:
            raise ScannerError(f"{where} is about {named[:80]}, not {digest}")
    generated = _json.text(doc, "generated_at", where, ScannerError, required=False)
    created = _json.timestamp(generated, "generated_at", ScannerError) if generated else received
    items = _json.array(doc, "vulnerabilities", where, ScannerError, max_findings)
    findings = tuple(
        _finding(item, f"{where}: vulnerabilities[{i}]") for i, item in enumerate(items)
    )
    return ScanVerdict(digest, source, created, findings)


def _finding(item: Any, where: str) -> Finding:
    if not isinstance(item, dict):
        raise ScannerError(f"{where} is a {type(item).__name__}, not an object")

    def field(key: str, required: bool) -> str | None:
        return _json.text(item, key, where, ScannerError, required=required)

    vuln_id = field("id", True) or ""
    if not vuln_id.strip():
        raise ScannerError(f"{where}: id is empty")
    severity = field("severity", True) or ""
    mapped = SEVERITIES.get(severity.casefold())
    if mapped is None:
        raise ScannerError(
            f"{where}: severity {severity[:40]!r} is not one of the spec's"
            " Unknown, Negligible, Low, Medium, High, Critical"
        )
    return Finding(
        id=vuln_id,
        package=field("package", False) or "",  # the spec requires none of the fields
        installed=field("version", False) or "",
        fixed=field("fix_version", False) or None,
        severity=mapped,
    )

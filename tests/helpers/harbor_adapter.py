"""A small Harbor Pluggable Scanner API v1.2 adapter for tests (aiohttp, loopback).

Follows goharbor/pluggable-scanner-spec ``api/spec/scanner-adapter-openapi-v1.2.yaml``:
``GET /api/v1/metadata``; ``POST /api/v1/scan`` (ScanRequest, 202 ``{id}``; 400 for bad JSON,
422 for missing fields); ``GET /api/v1/scan/{id}/report`` → ``302`` with ``Refresh-After``
until ``ready_after`` seconds have passed since the scan request, then ``200`` with a
HarborVulnerabilityReport built from ``vulnerabilities`` (404 for an unknown id). It counts
scan requests and report polls, and keeps the request bodies and headers it received.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SCAN_REQUEST_TYPES = {
    "application/vnd.scanner.adapter.scan.request+json; version=1.0",
    "application/vnd.scanner.adapter.scan.request+json; version=1.1",
}
REPORT_TYPE = "application/vnd.security.vulnerability.report; version=1.1"
ERROR_TYPE = "application/vnd.scanner.adapter.error+json; version=1.0"
CONSUMES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]


def vulnerability(
    vuln_id: str, package: str, version: str, fix: str | None, severity: str
) -> dict[str, Any]:
    """One spec VulnerabilityItem."""
    item: dict[str, Any] = {
        "id": vuln_id,
        "package": package,
        "version": version,
        "severity": severity,
        "links": [f"https://avd.aquasec.com/nvd/{vuln_id.lower()}"],
    }
    if fix is not None:
        item["fix_version"] = fix
    return item


@dataclass
class _Scan:
    request: dict[str, Any]
    started: float


@dataclass
class HarborAdapter:
    """Start with ``async with HarborAdapter(...) as adapter``; ``adapter.url`` is its base."""

    vulnerabilities: list[dict[str, Any]] = field(default_factory=list)
    ready_after: float = 0.0  # seconds from scan request to report
    refresh_after: int = 0  # the Refresh-After header on each 302
    scan_status: int = 202  # anything else: the scan request is refused with an ErrorResponse
    report_digest: str | None = None  # report a different artifact digest (a broken adapter)
    scan_requests: list[dict[str, Any]] = field(default_factory=list)
    scan_headers: list[dict[str, str]] = field(default_factory=list)
    report_polls: int = 0
    url: str = ""
    _scans: dict[str, _Scan] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> HarborAdapter:
        app = web.Application()
        app.router.add_get("/api/v1/metadata", self._metadata)
        app.router.add_post("/api/v1/scan", self._scan)
        app.router.add_get("/api/v1/scan/{scan_id}/report", self._report)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metadata(self, request: web.Request) -> web.Response:
        doc = {
            "scanner": {"name": "test-adapter", "vendor": "gatekeeper tests", "version": "1.2"},
            "capabilities": [
                {
                    "type": "vulnerability",
                    "consumes_mime_types": CONSUMES,
                    "produces_mime_types": [REPORT_TYPE],
                }
            ],
            "properties": {"harbor.scanner-adapter/scanner-type": "os-package-vulnerability"},
        }
        return _json(200, doc, "application/vnd.scanner.adapter.metadata+json; version=1.1")

    async def _scan(self, request: web.Request) -> web.Response:
        self.scan_headers.append(dict(request.headers))
        if request.headers.get("Content-Type") not in SCAN_REQUEST_TYPES:
            return _error(400, f"unsupported Content-Type {request.headers.get('Content-Type')}")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "invalid JSON")
        self.scan_requests.append(body)
        artifact = body.get("artifact") if isinstance(body, dict) else None
        registry = body.get("registry") if isinstance(body, dict) else None
        if not isinstance(artifact, dict) or not isinstance(registry, dict):
            return _error(422, "registry and artifact are required")
        if not artifact.get("digest") or not artifact.get("repository") or not registry.get("url"):
            return _error(422, "registry.url, artifact.repository and artifact.digest are required")
        if self.scan_status != 202:
            return _error(self.scan_status, "scanner is broken on purpose")
        scan_id = str(uuid.uuid4())
        self._scans[scan_id] = _Scan(body, time.monotonic())
        return _json(
            202, {"id": scan_id}, "application/vnd.scanner.adapter.scan.response+json; version=1.0"
        )

    async def _report(self, request: web.Request) -> web.Response:
        self.report_polls += 1
        scan = self._scans.get(request.match_info["scan_id"])
        if scan is None:
            return web.Response(status=404)
        if time.monotonic() - scan.started < self.ready_after:
            # Spec: 302 "the scan report is being generated and the request should be retried".
            return web.Response(status=302, headers={"Refresh-After": str(self.refresh_after)})
        artifact = dict(scan.request["artifact"])
        if self.report_digest is not None:
            artifact["digest"] = self.report_digest
        doc = {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "artifact": artifact,
            "scanner": {"name": "test-adapter", "vendor": "gatekeeper tests", "version": "1.2"},
            "severity": _highest(self.vulnerabilities),
            "vulnerabilities": self.vulnerabilities,
        }
        return _json(200, doc, REPORT_TYPE)


def _highest(vulnerabilities: list[dict[str, Any]]) -> str:
    order = ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"]
    found = [v["severity"] for v in vulnerabilities if v.get("severity") in order]
    return max(found, key=order.index) if found else "Unknown"


def _json(status: int, doc: Any, content_type: str) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(doc).encode(), headers={"Content-Type": content_type}
    )


def _error(status: int, message: str) -> web.Response:
    return _json(status, {"error": {"message": message}}, ERROR_TYPE)

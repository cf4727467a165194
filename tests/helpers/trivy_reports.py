"""Real Trivy reports (tests/assets/trivy), retargeted to digests of images a test pushed."""

from __future__ import annotations

import json
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "trivy"
DEBIAN = ASSETS / "debian-buster.json"  # CRITICAL CVE-2019-18224 (libidn2-0), LOW
ALPINE = ASSETS / "alpine-310-registry.json"  # MEDIUM only
MANY = ASSETS / "scheme_2_many_vulns.json"  # CRITICAL CVE-2019-12900, HIGH CVE-2020-28196


def publish(directory: Path, report: Path, digest: str) -> Path:
    """Drop ``report`` into the verdict directory, retargeted to ``digest``, atomically."""
    doc = json.loads(report.read_bytes())
    doc.setdefault("Metadata", {})["RepoDigests"] = [f"anything/else@{digest}"]
    tmp = directory / f".{digest[7:19]}.tmp"
    tmp.write_text(json.dumps(doc))
    final = directory / f"{digest[7:19]}.json"
    tmp.replace(final)
    return final

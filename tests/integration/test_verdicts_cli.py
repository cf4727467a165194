"""``gatekeeper verdicts show`` and ``gatekeeper evaluate --verdicts`` on real reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import images
from tests.helpers.processes import Process
from tests.helpers.trivy_reports import ALPINE, DEBIAN, publish

POLICY = """
rules:
  - name: scanned
    repositories: ["scanned/**"]
    scan: {deny_severities: [CRITICAL]}
"""


def gatekeeper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatekeeper", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_verdicts_show_and_evaluate(tmp_path: Path, registry: Process) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    reports = tmp_path / "reports"
    reports.mkdir()
    bad, good = images.image("cli-critical"), images.image("cli-medium")
    images.push_image(tmp_path, bad, f"{registry.host}/scanned/bad:1.0.0")
    images.push_image(tmp_path, good, f"{registry.host}/scanned/good:1.0.0")
    publish(reports, DEBIAN, bad.digest)
    publish(reports, ALPINE, good.digest)

    shown = gatekeeper("verdicts", "show", bad.digest, "--verdicts", str(reports))
    assert shown.returncode == 1, shown.stderr
    assert "REFUSED" in shown.stdout
    assert "CVE-2019-18224" in shown.stdout
    by_ref = gatekeeper(
        "verdicts",
        "show",
        "scanned/good:1.0.0",
        "--verdicts",
        str(reports),
        "--upstream",
        registry.url,
        "--policy",
        str(policy),
    )
    assert by_ref.returncode == 0, by_ref.stdout + by_ref.stderr
    assert good.digest in by_ref.stdout
    assert "PASSES" in by_ref.stdout
    missing = gatekeeper("verdicts", "show", "sha256:" + "0" * 64, "--verdicts", str(reports))
    assert missing.returncode == 1
    assert "no vulnerability verdict" in missing.stdout

    evaluated = gatekeeper(
        "evaluate",
        "scanned/bad:1.0.0",
        "--upstream",
        registry.url,
        "--policy",
        str(policy),
        "--verdicts",
        str(reports),
    )
    assert evaluated.returncode == 1, evaluated.stderr
    assert "CVE-2019-18224" in evaluated.stdout
    assert (
        gatekeeper(
            "evaluate",
            "scanned/good:1.0.0",
            "--upstream",
            registry.url,
            "--policy",
            str(policy),
            "--verdicts",
            str(reports),
        ).returncode
        == 0
    )

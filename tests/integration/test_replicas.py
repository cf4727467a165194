"""``scripts/replicas.py`` (``make replicas``) with two replicas: the decision one replica
made (a signed index) is served warm by the other through the shared Redis, and its
/metrics show that the other verified nothing."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.processes import REPO_ROOT


def test_two_replicas_share_a_decision() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts/replicas.py"), "--replicas", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: replica 1 decided the signed index once" in done.stdout
    table = {
        line.split()[1]: line.split()[2:]
        for line in done.stdout.splitlines()
        if line.startswith("  replica ") and "GET" not in line
    }
    # replica 2: both children and all blobs served, no signature checked or verified
    assert table["2"] == ["2", "4", "6", "0", "0"]
    assert "same child: 403" in done.stdout

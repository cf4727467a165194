"""Build the image here and run it hardened: scripts/build_image.py (what `make image` runs).

Slow (minutes: mmdebstrap, a vfs dockerd, the build), so `make test` deselects it
(pyproject.toml addopts ``-m 'not slow'``). Run it with
``pytest -m slow -s tests/deploy/test_image_build.py`` after every change to the image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers.processes import REPO_ROOT

pytestmark = pytest.mark.slow


def test_image_builds_runs_hardened_and_serves_a_pull() -> None:
    if os.geteuid() != 0:
        pytest.skip("the image build runs a private dockerd as root")
    for tool in ("mmdebstrap", "dockerd", "docker-registry"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (`make image` installs it)")
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "build_image.py")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    print(done.stdout, done.stderr, sep="\n")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for check in ("/healthz", "HEALTHCHECK", "docker pull", "refused", "read-only", "10001"):
        assert any(check in line and "[ok]" in line for line in done.stdout.splitlines()), check
    assert done.stdout.rstrip().splitlines()[-1].startswith("make image: ")
    assert " 0 failed" in done.stdout.rstrip().splitlines()[-1]

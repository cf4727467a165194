"""The command line's exit codes and messages (no server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatekeeper.cli import main


def test_policy_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text('rules: [{name: all, repositories: ["**"]}]\n')
    bad = tmp_path / "bad.yaml"
    bad.write_text('rules:\n  - name: x\n    repositories: ["**"]\n    colour: red\n')
    assert main(["policy", "check", str(good)]) == 0
    assert "ok:" in capsys.readouterr().out
    assert main(["policy", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:4: rules[0].colour:" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--policy", "p.yaml"], "--upstream"),
        (["serve", "--upstream", "ftp://x", "--policy", "p.yaml"], "http(s)://"),
        (
            ["serve", "--upstream", "http://x", "--policy", "p.yaml", "--listen", "nope"],
            "HOST:PORT",
        ),
        (
            ["serve", "--upstream", "http://x", "--policy", "p.yaml", "--tls-cert", "c.pem"],
            "--tls-cert and --tls-key go together",
        ),
        (
            ["serve", "--upstream", "http://x", "--policy", "p.yaml", "--public-url", "gate:5000"],
            "--public-url must be an http(s)://HOST[:PORT] origin",
        ),
        (
            [
                "serve",
                "--upstream",
                "http://x",
                "--policy",
                "p.yaml",
                "--public-url",
                "https://g/r",
            ],
            "--public-url takes no path",
        ),
        (
            ["serve", "--upstream", "http://x", "--policy", "p.yaml", "--trusted-proxies", "lb"],
            "--trusted-proxies: 'lb' is not an IP address or CIDR network",
        ),
        (
            ["evaluate", "BAD NAME:1", "--upstream", "http://x", "--policy", "p.yaml"],
            "invalid repository name",
        ),
    ],
)
def test_configuration_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATEKEEPER_PUBLIC_URL": "https://g?x"}, "--public-url must be"),
        ({"GATEKEEPER_TRUSTED_PROXIES": "::/0"}, "trusts every address"),
    ],
)
def test_serve_settings_from_environment_are_validated(env: dict[str, str], message: str) -> None:
    """One ``gatekeeper: …`` line and exit 2, before anything listens."""
    done = subprocess.run(
        [sys.executable, "-m", "gatekeeper", "serve", "--upstream", "http://x", "--policy", "p"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("gatekeeper: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

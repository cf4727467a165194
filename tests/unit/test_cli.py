"""The command line's exit codes and messages (no server)."""

from __future__ import annotations

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

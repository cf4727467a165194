"""The command line's exit codes and messages (no server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gatekeeper.cli import build_parser, main


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


def _gatekeeper(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatekeeper", *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_line_exit_2(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gatekeeper: ") and message in lines[0], lines[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text('rules: [{name: all, repositories: ["**"]}]\n')
    return path


def _serve(policy: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return _gatekeeper("serve", "--upstream", "http://127.0.0.1:9", "--policy", str(policy), *argv)


def test_port_in_use_is_one_line(policy_file: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(policy_file, "--listen", f"127.0.0.1:{port}")
    _one_line_exit_2(done, f"--listen 127.0.0.1:{port}: cannot listen there")


def test_port_in_use_with_workers_is_one_line(policy_file: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(
            policy_file, "--listen", f"127.0.0.1:{port}", "--workers", "2", "--redis", "redis://x"
        )
    assert done.returncode == 2, done.stderr
    assert {line for line in done.stderr.splitlines() if "gatekeeper:" in line} == {
        f"gatekeeper: --listen 127.0.0.1:{port}: cannot listen there: Address already in use"
    }


def test_address_the_host_lacks_is_one_line(policy_file: Path) -> None:
    done = _serve(policy_file, "--listen", "192.0.2.1:5000")  # TEST-NET-1, never local
    _one_line_exit_2(done, "--listen 192.0.2.1:5000: cannot listen there")


def test_metrics_listen_in_use_is_one_line(policy_file: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(
            policy_file,
            "--listen",
            f"127.0.0.1:{_free_port()}",
            "--metrics-listen",
            f"127.0.0.1:{port}",
        )
    _one_line_exit_2(done, f"--metrics-listen 127.0.0.1:{port}: cannot listen there")


def test_unwritable_decision_log_is_one_line(policy_file: Path) -> None:
    done = _serve(policy_file, "--listen", f"127.0.0.1:{_free_port()}", "--decision-log", "/nope/x")
    _one_line_exit_2(done, "cannot open --decision-log /nope/x: No such file or directory")


def test_bad_upstream_credentials_leave_no_unclosed_session(
    policy_file: Path, tmp_path: Path
) -> None:
    credentials = tmp_path / "config.json"
    credentials.write_text("{not json")
    done = _serve(
        policy_file,
        "--listen",
        f"127.0.0.1:{_free_port()}",
        "--upstream-credentials",
        str(credentials),
    )
    _one_line_exit_2(done, str(credentials))
    assert "Unclosed" not in done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "loud", "policy", "check", "p.yaml"],
        ["policy", "check", "p.yaml", "--log-level", "loud"],
    ],
)
def test_bad_log_level_is_one_line(argv: list[str]) -> None:
    _one_line_exit_2(_gatekeeper(*argv), "--log-level: invalid choice: 'loud'")


def test_log_flags_after_the_subcommand(policy_file: Path) -> None:
    done = _gatekeeper(
        "policy", "check", str(policy_file), "--log-level", "DEBUG", "--log-format", "json"
    )
    assert done.returncode == 0, done.stderr
    args = build_parser().parse_args(["--log-level", "error", "policy", "check", "p"])
    assert args.log_level == "error"  # a subcommand does not reset what came before it
    args = build_parser().parse_args(
        ["--log-level", "error", "policy", "check", "p", "--log-level", "debug"]
    )
    assert args.log_level == "debug"


def test_help_is_written_for_people() -> None:
    top = _gatekeeper("--help").stdout
    for part in ("exit codes:", "examples:", "GATEKEEPER_", "verdicts show", "--log-format"):
        assert part in top
    serve = _gatekeeper("serve", "--help").stdout
    for part in ("examples:", "--metrics-listen", "GATEKEEPER_LISTEN", "default 20.0", "SIGHUP"):
        assert part in serve


def test_output_json_for_results_and_errors(policy_file: Path, tmp_path: Path) -> None:
    checked = _gatekeeper("policy", "check", str(policy_file), "-o", "json")
    assert checked.returncode == 0
    assert json.loads(checked.stdout) == {
        "valid": True,
        "paths": [str(policy_file)],
        "problems": [],
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: []\n")
    refused = _gatekeeper("policy", "check", str(bad), "--output", "json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["problems"]
    for flag in (["-o", "json"], ["--json"]):  # --json stays an alias
        down = _gatekeeper(
            "evaluate",
            "team/app:1.0",
            "--upstream",
            "http://127.0.0.1:9",
            "--policy",
            str(policy_file),
            *flag,
        )
        assert down.returncode == 2, down.stderr
        error = json.loads(down.stdout)["error"]
        assert error["code"] == "UNAVAILABLE" and "127.0.0.1:9" in error["message"]
        assert down.stderr.startswith("gatekeeper: ")
    shown = _gatekeeper("verdicts", "show", "sha256:" + "0" * 64, "-o", "json")
    assert shown.returncode == 2 and "--verdicts" in json.loads(shown.stdout)["error"]["message"]

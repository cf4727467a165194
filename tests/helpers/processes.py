"""Start and stop the real processes tests run against (registry, gatekeeper)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(
    url: str,
    proc: subprocess.Popen[bytes] | None,
    timeout: float = 15.0,
    ok: Sequence[int] = (200, 401),
    verify: bool | str = True,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1, verify=verify).status_code in ok:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
{extra}"""


def start_registry(workdir: Path, extra_config: str = "") -> Process:
    """CNCF distribution (Debian's docker-registry) on a free loopback port."""
    port = free_port()
    root = workdir / "storage"
    root.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(root=root, port=port, extra=extra_config))
    log_path = workdir / "registry.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/v2/", proc)
    return Process(proc, url, log_path)


def start_gatekeeper(
    workdir: Path,
    upstream: str,
    policy: Path,
    *args: str,
    env: dict[str, str] | None = None,
    tls_ca: Path | None = None,
) -> Process:
    """``python -m gatekeeper serve`` as a real process on a free port.

    With ``tls_ca`` (gatekeeper started with --tls-cert/--tls-key) the URL is https and
    readiness is checked against that CA.
    """
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"gatekeeper-{port}.log"
    full_env = {**os.environ, **(env or {})}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gatekeeper",
                "serve",
                "--upstream",
                upstream,
                "--listen",
                f"127.0.0.1:{port}",
                "--policy",
                str(policy),
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=REPO_ROOT,
        )
    url = f"{'https' if tls_ca else 'http'}://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc, verify=str(tls_ca) if tls_ca else True)
    except (RuntimeError, TimeoutError):
        proc.kill()
        raise RuntimeError(f"gatekeeper did not start:\n{log_path.read_text()}") from None
    return Process(proc, url, log_path)


@contextlib.contextmanager
def running(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.stop()


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size (VmHWM) so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM not found")

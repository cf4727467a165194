"""Frozen settings, built from command-line arguments and environment variables.

No work happens at import; :func:`gatekeeper.cli` builds a :class:`Settings` and hands it to
``create_app``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gatekeeper.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Limits:
    """Explicit bounds on work and memory (bytes, counts, seconds)."""

    manifest_bytes: int = 4 * 1024 * 1024  # distribution's own manifest limit
    connect_timeout: float = 10.0
    read_timeout: float = 300.0  # between two reads of an upstream body
    admission_ttl: float = 3600.0  # how long an admitted manifest keeps its blobs/children open
    admission_entries: int = 100_000  # in-process admission records (LRU beyond this)
    upstream_connections: int = 256


@dataclass(frozen=True, slots=True)
class Settings:
    upstream: str
    policy_paths: tuple[Path, ...]
    listen_host: str = "127.0.0.1"
    listen_port: int = 5000
    dry_run: bool = False
    decision_log: Path | None = None  # None: stdout
    limits: Limits = Limits()
    policy_poll_interval: float = 2.0  # seconds between policy file change checks


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen must be HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - explicit empty host


def check_upstream(url: str) -> str:
    """An upstream is an http(s) base URL without query or fragment; no trailing slash."""
    if not url.startswith(("http://", "https://")) or "?" in url or "#" in url:
        raise ConfigError(f"--upstream must be an http(s):// base URL, got {url!r}")
    return url.rstrip("/")

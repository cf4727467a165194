"""The policy in force, reloaded on change or SIGHUP without dropping requests.

A reload compiles the new policy completely before swapping one reference; requests in
flight keep the Policy object they started with. An invalid new policy is logged and the
old one stays in force.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from gatekeeper.errors import ConfigError
from gatekeeper.policy.model import Policy

log = logging.getLogger("gatekeeper.policy")

Loader = Callable[[tuple[Path, ...]], Policy]


class PolicyStore:
    def __init__(self, paths: tuple[Path, ...], loader: Loader, *, dry_run: bool) -> None:
        self._paths = paths
        self._loader = loader
        self._dry_run = dry_run
        self._stamp = self._file_stamp()
        self.current = self._load()

    def _load(self) -> Policy:
        policy = self._loader(self._paths)
        return policy.force_dry_run() if self._dry_run else policy

    def _file_stamp(self) -> tuple[tuple[str, int, int], ...]:
        files: list[Path] = []
        for path in self._paths:
            if path.is_dir():
                files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
            else:
                files.append(path)
        stamp = []
        for file in files:
            try:
                st = file.stat()
            except OSError:
                stamp.append((str(file), -1, -1))
                continue
            stamp.append((str(file), st.st_mtime_ns, st.st_size))
        return tuple(stamp)

    def reload(self) -> bool:
        """Load the policy again; keep the old one if the new one is invalid."""
        self._stamp = self._file_stamp()
        try:
            policy = self._load()
        except ConfigError as exc:
            problems = getattr(exc, "problems", None) or (exc.message,)
            log.error("policy reload refused, keeping the policy in force: %s", "; ".join(problems))
            return False
        except OSError as exc:
            log.error("policy reload refused, keeping the policy in force: %s", exc)
            return False
        if policy.fingerprint != self.current.fingerprint:
            log.info("policy reloaded (fingerprint %s)", policy.fingerprint[:12])
        self.current = policy
        return True

    async def watch(self, interval: float) -> None:
        """Poll the policy files and reload when any of them changes."""
        while True:
            await asyncio.sleep(interval)
            if self._file_stamp() != self._stamp:
                await asyncio.to_thread(self.reload)

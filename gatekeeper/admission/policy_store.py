"""The policy in force, reloaded on change or SIGHUP without dropping requests.

A reload compiles the new policy completely (key files and trusted roots included) before
swapping one reference; requests in flight keep the Policy object they started with. An
invalid new policy is logged and the old one stays in force.

Watched for changes: the policy files, and the key and trusted root files the last policy
compiled (or tried to compile) named, each against the stamp taken before it was read. A
replaced key file is therefore picked up by a reload, which parses it again (and refuses it,
keeping the old policy, when it is no longer a usable key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from gatekeeper import metrics
from gatekeeper.errors import GatekeeperError
from gatekeeper.policy.files import FileStamp, WatchedFile, file_stamp
from gatekeeper.policy.loader import POLICY_SUFFIXES, PolicyError
from gatekeeper.policy.model import Policy

log = logging.getLogger("gatekeeper.policy")

Loader = Callable[[tuple[Path, ...]], Policy]
PolicyStamp = tuple[tuple[str, FileStamp | None], ...]


class PolicyStore:
    def __init__(self, paths: tuple[Path, ...], loader: Loader, *, dry_run: bool) -> None:
        self._paths = paths
        self._loader = loader
        self._dry_run = dry_run
        self._stamp = self._policy_stamp()
        self.current = self._load()
        self._trust_files: tuple[WatchedFile, ...] = self.current.trust_files

    def _load(self) -> Policy:
        policy = self._loader(self._paths)
        return policy.force_dry_run() if self._dry_run else policy

    def _policy_stamp(self) -> PolicyStamp:
        files: list[Path] = []
        for path in self._paths:
            if path.is_dir():
                files.extend(sorted(p for p in path.iterdir() if p.suffix in POLICY_SUFFIXES))
            else:
                files.append(path)
        return tuple((str(file), file_stamp(file)) for file in files)

    @property
    def watched(self) -> tuple[Path, ...]:
        """The trust files watched besides the policy files (for logs and tests)."""
        return tuple(file.path for file in self._trust_files)

    def changed(self) -> bool:
        """True when a policy file or a watched trust file changed since it was read."""
        if self._policy_stamp() != self._stamp:
            return True
        return any(file.changed() for file in self._trust_files)

    def reload(self) -> bool:
        """Load the policy again; keep the old one if the new one is invalid."""
        self._stamp = self._policy_stamp()
        try:
            policy = self._load()
        except PolicyError as exc:
            # Watch what the refused policy named, so fixing a key file retries at once.
            self._trust_files = exc.trust_files
            log.error(
                "policy reload refused, keeping the policy in force: %s", "; ".join(exc.problems)
            )
            metrics.policy_reloaded(False, self.current.fingerprint)
            return False
        except (GatekeeperError, OSError) as exc:
            message = exc.message if isinstance(exc, GatekeeperError) else str(exc)
            log.error("policy reload refused, keeping the policy in force: %s", message)
            metrics.policy_reloaded(False, self.current.fingerprint)
            return False
        self._trust_files = policy.trust_files
        if policy.fingerprint != self.current.fingerprint:
            log.info("policy reloaded (fingerprint %s)", policy.fingerprint[:12])
        else:
            log.info(
                "policy reloaded, unchanged in effect (fingerprint %s)", policy.fingerprint[:12]
            )
        self.current = policy
        metrics.policy_reloaded(True, policy.fingerprint)
        return True

    async def watch(self, interval: float) -> None:
        """Poll the policy and trust files and reload when any of them changes."""
        while True:
            await asyncio.sleep(interval)
            if await asyncio.to_thread(self.changed):
                await asyncio.to_thread(self.reload)

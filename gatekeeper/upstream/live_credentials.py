"""gatekeeper's own upstream credentials as they are now: the file re-read when it changes,
helper results kept for a bounded time and asked again after the upstream refuses them.

Cloud registries hand out short-lived credentials (ECR: 12 hours, GCR access tokens: one
hour), through credential helpers that a long-running gatekeeper must ask again. A helper's
answer is kept ``max_age`` seconds; a ``401`` from the upstream (or its token endpoint) for a
credential at least ``_MIN_RENEW`` seconds old drops it, so the next request runs the helper
once more (a storm of refused requests runs it once). A helper that failed is asked again
after ``_RETRY_FAILED`` seconds, not per request.

The file is checked (one ``stat``) at most every ``poll`` seconds when a credential is
needed, and re-read when its stamp changed; an unreadable or invalid new file is logged and
the credentials in force stay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gatekeeper.errors import ConfigError, GatekeeperError
from gatekeeper.policy.files import FileStamp, file_stamp
from gatekeeper.upstream.cred_helper import run_helper
from gatekeeper.upstream.credentials import Credential, CredentialStore, HelperRef

log = logging.getLogger("gatekeeper.upstream.credentials")

_MIN_RENEW = 2.0  # a credential younger than this is not dropped on a 401
_RETRY_FAILED = 5.0  # a failed helper is asked again after this long

Runner = Callable[[HelperRef], Awaitable[Credential | None]]


class CredentialSource(Protocol):
    """Where an upstream's credential comes from (injected into the Authenticator)."""

    async def get(self) -> Credential | None: ...

    def current(self) -> Credential | None:
        """What is known without running a helper (a written credential, a cached answer)."""
        ...

    def expire(self) -> bool:
        """The upstream refused the credential: forget it if it can be asked again.
        True when the next :meth:`get` may give another one."""
        ...


@dataclass(frozen=True, slots=True)
class FixedCredential:
    """One credential (or none) for the process's lifetime."""

    credential: Credential | None

    async def get(self) -> Credential | None:
        return self.credential

    def current(self) -> Credential | None:
        return self.credential

    def expire(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class _Answer:
    at: float
    credential: Credential | None
    error: GatekeeperError | None = None


class LiveCredentials:
    """The ``--upstream-credentials`` file (or a fixed store) and its helpers' answers."""

    def __init__(
        self,
        store: CredentialStore,
        *,
        path: Path | None = None,
        stamp: FileStamp | None = None,
        poll: float = 2.0,
        max_age: float = 300.0,
        helper_timeout: float = 10.0,
        runner: Runner | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._path = path
        self._stamp = stamp
        self._poll = poll
        self._max_age = max_age
        self._clock = clock
        self._run = runner or (lambda ref: run_helper(ref, seconds=helper_timeout))
        self._polled = clock()
        self._answers: dict[HelperRef, _Answer] = {}
        self._locks: dict[HelperRef, asyncio.Lock] = {}
        self.helper_runs = 0  # tests count them
        self.reloads = 0

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        poll: float,
        max_age: float,
        helper_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> LiveCredentials:
        """Read ``path`` now (a bad file is a startup error) and watch it from then on."""
        stamp = file_stamp(path)  # before reading: a racing change shows at the next poll
        return cls(
            CredentialStore.load(path),
            path=path,
            stamp=stamp,
            poll=poll,
            max_age=max_age,
            helper_timeout=helper_timeout,
            clock=clock,
        )

    def for_url(self, url: str) -> BoundCredential:
        return BoundCredential(self, url)

    async def get(self, url: str) -> Credential | None:
        self._maybe_reload()
        found = self._store.lookup(url)
        if not isinstance(found, HelperRef):
            return found
        answer = self._fresh(found)
        if answer is None:
            lock = self._locks.setdefault(found, asyncio.Lock())
            async with lock:  # one helper run per server, however many requests wait
                answer = self._fresh(found)
                if answer is None:
                    answer = await self._ask(found)
        if answer.error is not None:
            raise answer.error
        return answer.credential

    def known(self, url: str) -> Credential | None:
        found = self._store.lookup(url)
        if not isinstance(found, HelperRef):
            return found
        answer = self._answers.get(found)
        return answer.credential if answer is not None else None

    def expire(self, url: str) -> bool:
        found = self._store.lookup(url)
        if not isinstance(found, HelperRef):
            return False
        answer = self._answers.get(found)
        if answer is None:
            return True
        if self._clock() - answer.at < _MIN_RENEW:
            return False
        del self._answers[found]
        return True

    def _fresh(self, ref: HelperRef) -> _Answer | None:
        answer = self._answers.get(ref)
        if answer is None:
            return None
        limit = self._max_age if answer.error is None else min(_RETRY_FAILED, self._max_age)
        return answer if self._clock() - answer.at < limit else None

    async def _ask(self, ref: HelperRef) -> _Answer:
        self.helper_runs += 1
        try:
            answer = _Answer(self._clock(), await self._run(ref))
        except GatekeeperError as exc:
            log.error("upstream credential: %s", exc.message)
            answer = _Answer(self._clock(), None, exc)
        self._answers[ref] = answer
        return answer

    def _maybe_reload(self) -> None:
        if self._path is None or self._clock() - self._polled < self._poll:
            return
        self._polled = self._clock()
        stamp = file_stamp(self._path)
        if stamp == self._stamp:
            return
        self._stamp = stamp  # a broken file is reported once, not at every poll
        try:
            store = CredentialStore.load(self._path)
        except ConfigError as exc:
            log.error(
                "upstream credentials reload refused, keeping those in force: %s", exc.message
            )
            return
        self._store = store
        self._answers.clear()
        self.reloads += 1
        log.info("upstream credentials reloaded from %s", self._path)


@dataclass(frozen=True, slots=True)
class BoundCredential:
    """The credential source of one upstream URL."""

    live: LiveCredentials
    url: str

    async def get(self) -> Credential | None:
        return await self.live.get(self.url)

    def current(self) -> Credential | None:
        return self.live.known(self.url)

    def expire(self) -> bool:
        return self.live.expire(self.url)

"""One guarded Redis connection pool for the state replicas share.

Every command runs under a short timeout; a failure is logged once per outage, and Redis is
not tried again for ``retry_after`` seconds, so a dead Redis costs requests nothing. What to
do without Redis is each caller's decision (verdicts: process-local cache; admissions: the
records this process wrote itself).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from gatekeeper.errors import ConfigError, GatekeeperError
from gatekeeper.redact import describe

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("gatekeeper.redis")

T = TypeVar("T")


class StoreUnavailable(GatekeeperError):
    """Redis did not answer (or is in its back-off window)."""

    code = "UNAVAILABLE"
    status = 503


class SharedRedis:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.25,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retry_after = retry_after
        self._clock = clock
        self._redis = connect(url, timeout)
        self._down_until = 0.0
        self._down = False

    async def run(self, command: Callable[[Redis], Awaitable[T]]) -> T:
        """Run ``command``; raise StoreUnavailable on any failure or while backing off."""
        if self._clock() < self._down_until:
            raise StoreUnavailable(f"redis {redact(self.url)} is backing off")
        try:
            result = await asyncio.wait_for(command(self._redis), self.timeout)
        except Exception as exc:  # any Redis failure is an outage to callers
            self._failed(exc)
            raise StoreUnavailable(f"redis {redact(self.url)} failed: {_why(exc)}") from exc
        if self._down:
            self._down = False
            log.warning("redis %s is back: state is shared again", redact(self.url))
        return result

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except Exception as exc:  # noqa: BLE001 - closing a dead connection may fail
            log.debug("closing redis: %s", _why(exc))

    def _failed(self, exc: BaseException) -> None:
        self._down_until = self._clock() + self.retry_after
        if not self._down:
            self._down = True
            reason = "timed out" if isinstance(exc, TimeoutError) else _why(exc)
            log.warning(
                "redis %s unavailable (%s): falling back to this process's own state;"
                " retrying every %gs",
                redact(self.url),
                reason,
                self.retry_after,
            )


def connect(url: str, timeout: float) -> Redis:
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:  # pragma: no cover - redis is in the `redis` extra
        raise ConfigError(
            "--redis needs the redis package: pip install 'gatekeeper[redis]'"
        ) from exc
    try:
        # One immediate retry inside redis-py: it replaces a pooled connection that a Redis
        # restart broke. No more, and no back-off: SharedRedis decides when to try again,
        # and a request must not wait through redis-py's default retries.
        return Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1)
        )
    except ValueError as exc:
        raise ConfigError(f"--redis {redact(url)!r} is not a Redis URL: {exc}") from exc


def redact(url: str | None) -> str:
    """The URL without its password (redis://user:secret@host → redis://user:***@host)."""
    if url is None or "@" not in url:
        return str(url)
    scheme, _, rest = url.partition("://")
    userinfo, _, host = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def _why(exc: BaseException) -> str:
    """Type and first line of a Redis error, never its repr."""
    return f"{type(exc).__name__}: {describe(exc)}"

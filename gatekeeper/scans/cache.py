"""VerdictCache: verdicts by manifest digest, in process (L1) and optionally in Redis (L2).

L1 is a cachetools ``TTLCache`` (TTL and entry bound). L2, when a Redis URL is given, holds
the JSON form (:mod:`gatekeeper.scans.codec`) under ``gatekeeper:verdict:<digest>`` with its
own TTL, so replicas share what any of them learned (a scanner's report, an attestation)
and a restarted replica starts warm.

Redis is an accelerator, never a dependency of a request: every Redis command is bounded by
``redis_timeout``; an error or timeout is logged (once per outage) and the cache works from
L1 alone, skipping Redis for ``redis_retry_after`` seconds before trying it again. The
sources on disk and in the registry stay the truth, so losing Redis loses nothing.

A replica that holds a digest in L1 does not look in Redis until the L1 entry expires:
``ttl`` bounds how long replicas may disagree. Without Redis, ``ttl`` is also how long a
scanner verdict is kept before a pull asks the scanner again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetools import TTLCache

from gatekeeper.errors import ConfigError
from gatekeeper.policy.evidence import ScanVerdict
from gatekeeper.scans.codec import VerdictDecodeError, decode_verdict, encode_verdict

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("gatekeeper.scans.cache")

KEY_PREFIX = "gatekeeper:verdict:"


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """Sizes and times of the verdict cache (seconds, entries, bytes)."""

    ttl: float = 600.0  # L1 lifetime; also how long replicas may disagree
    max_entries: int = 10_000  # L1 entries (least recently used go first beyond this)
    redis_ttl: float = 86_400.0  # L2 lifetime; a scanner verdict is re-requested after it
    redis_timeout: float = 0.25  # one Redis command, connecting included
    redis_retry_after: float = 5.0  # L1 only for this long after a Redis failure
    max_value_bytes: int = 64 * 1024 * 1024  # a stored verdict larger than this is ignored


class VerdictCache:
    """Verdicts by digest: L1 in process, L2 in Redis when ``redis_url`` is given."""

    def __init__(
        self,
        redis_url: str | None = None,
        limits: CacheLimits = CacheLimits(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.redis_url = redis_url
        self._clock = clock
        self._l1: TTLCache[str, ScanVerdict] = TTLCache(
            maxsize=limits.max_entries, ttl=limits.ttl, timer=clock
        )
        self._redis = None if redis_url is None else _connect(redis_url, limits)
        self._down_until = 0.0  # clock value before which Redis is not tried
        self._down = False  # an outage was logged and has not ended yet

    async def get(self, digest: str) -> ScanVerdict | None:
        """The cached verdict for ``digest`` (L1, then L2), or None."""
        verdict = self._l1.get(digest)
        if verdict is not None or self._redis is None or not self._redis_usable():
            return verdict
        try:
            data = await asyncio.wait_for(
                self._redis.get(KEY_PREFIX + digest), self.limits.redis_timeout
            )
        except Exception as exc:  # noqa: BLE001 - any Redis failure degrades to L1 only
            self._failed(exc)
            return None
        self._recovered()
        if data is None:
            return None
        try:
            raw = data.encode() if isinstance(data, str) else data
            verdict = decode_verdict(raw, self.limits.max_value_bytes)
        except VerdictDecodeError as exc:
            log.warning("redis %s%s ignored: %s", KEY_PREFIX, digest, exc.message)
            return None
        if verdict.digest != digest:
            log.warning(
                "redis %s%s holds a verdict for %s: ignored", KEY_PREFIX, digest, verdict.digest
            )
            return None
        self._l1[digest] = verdict
        return verdict

    async def put(self, verdict: ScanVerdict) -> None:
        """Remember ``verdict`` in L1 and, when configured and up, in Redis."""
        self._l1[verdict.digest] = verdict
        if self._redis is None or not self._redis_usable():
            return
        try:
            await asyncio.wait_for(
                self._redis.set(
                    KEY_PREFIX + verdict.digest,
                    encode_verdict(verdict),
                    px=max(1, int(self.limits.redis_ttl * 1000)),
                ),
                self.limits.redis_timeout,
            )
        except Exception as exc:  # noqa: BLE001 - any Redis failure degrades to L1 only
            self._failed(exc)
            return
        self._recovered()

    def forget(self, digest: str) -> None:
        """Drop ``digest`` from L1 (L2 entries expire on their own)."""
        self._l1.pop(digest, None)

    async def close(self) -> None:
        """Close the Redis connections, if any."""
        if self._redis is not None:
            try:
                await self._redis.aclose()
            except Exception as exc:  # noqa: BLE001 - closing a dead connection may fail
                log.debug("closing redis: %r", exc)

    def _redis_usable(self) -> bool:
        return self._clock() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        self._down_until = self._clock() + self.limits.redis_retry_after
        if not self._down:
            self._down = True
            reason = "timed out" if isinstance(exc, TimeoutError) else f"{exc!r}"[:200]
            log.warning(
                "redis %s unavailable (%s): verdicts are cached in this process only;"
                " retrying every %gs",
                _redact(self.redis_url),
                reason,
                self.limits.redis_retry_after,
            )

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.warning("redis %s is back: verdicts are shared again", _redact(self.redis_url))


def _connect(url: str, limits: CacheLimits) -> Redis:
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
        # restart broke. No more, and no back-off: the cache's own back-off decides when to
        # try again, and a request must not wait through redis-py's default retries.
        return Redis.from_url(
            url,
            socket_timeout=limits.redis_timeout,
            socket_connect_timeout=limits.redis_timeout,
            retry=Retry(NoBackoff(), 1),
        )
    except ValueError as exc:
        raise ConfigError(f"--redis {_redact(url)!r} is not a Redis URL: {exc}") from exc


def _redact(url: str | None) -> str:
    """The URL without its password (redis://user:secret@host → redis://user:***@host)."""
    if url is None or "@" not in url:
        return str(url)
    scheme, _, rest = url.partition("://")
    userinfo, _, host = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"

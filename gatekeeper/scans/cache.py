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

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

from gatekeeper import metrics
from gatekeeper.policy.evidence import ScanVerdict
from gatekeeper.scans.codec import VerdictDecodeError, decode_verdict, encode_verdict
from gatekeeper.state.shared_redis import SharedRedis, StoreUnavailable

log = logging.getLogger("gatekeeper.scans.cache")

KEY_PREFIX = "gatekeeper:verdict:"
_L1 = metrics.cache("verdicts")
_L2 = metrics.cache("verdicts_shared")


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
        shared: SharedRedis | None = None,
    ) -> None:
        self.limits = limits
        self._l1: TTLCache[str, ScanVerdict] = TTLCache(
            maxsize=limits.max_entries, ttl=limits.ttl, timer=clock
        )
        if shared is None and redis_url is not None:
            shared = SharedRedis(
                redis_url,
                timeout=limits.redis_timeout,
                retry_after=limits.redis_retry_after,
                clock=clock,
            )
            self._owns_redis = True
        else:
            self._owns_redis = False
        self._redis = shared

    async def get(self, digest: str) -> ScanVerdict | None:
        """The cached verdict for ``digest`` (L1, then L2), or None."""
        verdict = self._l1.get(digest)
        _L1.count(verdict is not None)
        if verdict is not None or self._redis is None:
            return verdict
        try:
            data = await self._redis.run(lambda r: r.get(KEY_PREFIX + digest))
        except StoreUnavailable:
            _L2.miss()
            return None  # degrade to L1 only; SharedRedis logged the outage
        _L2.count(data is not None)
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
        if self._redis is None:
            return
        value = encode_verdict(verdict)
        ttl_ms = max(1, int(self.limits.redis_ttl * 1000))
        try:
            await self._redis.run(lambda r: r.set(KEY_PREFIX + verdict.digest, value, px=ttl_ms))
        except StoreUnavailable:
            return

    def forget(self, digest: str) -> None:
        """Drop ``digest`` from L1 (L2 entries expire on their own)."""
        self._l1.pop(digest, None)

    async def close(self) -> None:
        """Close the Redis connections this cache opened itself, if any."""
        if self._redis is not None and self._owns_redis:
            await self._redis.close()

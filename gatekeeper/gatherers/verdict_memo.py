"""Verified outcomes remembered by key, the way every verifying gatherer needs them.

Successes are kept for ``positive_ttl``, failures only for ``negative_ttl`` (a signature may be
pushed a moment later), both bounded in entries; concurrent askers of one key share one
computation (single flight). Signatures, Notation signatures, attestation requirements and
VEX documents all remember their verdicts through this one class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import TTLCache

from gatekeeper.state.singleflight import SingleFlight

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class SignatureCacheConfig:
    positive_ttl: float = 300.0
    negative_ttl: float = 10.0
    max_entries: int = 10_000


class VerdictMemo(Generic[K, V]):
    def __init__(self, config: SignatureCacheConfig) -> None:
        self._positive: TTLCache[K, V] = TTLCache(config.max_entries, config.positive_ttl)
        self._negative: TTLCache[K, V] = TTLCache(config.max_entries, config.negative_ttl)
        self._flights: SingleFlight[K, V] = SingleFlight()

    def get(self, key: K) -> V | None:
        return self._positive.get(key) or self._negative.get(key)

    def keep(self, key: K, value: V, *, passed: bool) -> None:
        (self._positive if passed else self._negative)[key] = value

    async def run(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        """``compute()`` once for every concurrent asker of ``key`` (it calls :meth:`keep`)."""
        return await self._flights.run(key, compute)

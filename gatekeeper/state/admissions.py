"""Which digests were recently admitted in which repository, under which policy.

Admitting a manifest opens its config and layer blobs; admitting an index opens its child
manifests. A record is only honoured under the policy fingerprint that wrote it, so a policy
change closes everything it would no longer admit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from cachetools import TTLCache

from gatekeeper.state.shared_redis import SharedRedis, StoreUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis


class AdmissionStore(Protocol):
    async def admit(self, repository: str, digests: Iterable[str], fingerprint: str) -> None:
        """Record ``digests`` as admitted in ``repository`` under ``fingerprint``."""

    async def admitted(self, repository: str, digest: str, fingerprint: str) -> bool:
        """True when ``digest`` was admitted in ``repository`` under ``fingerprint``."""


class MemoryAdmissionStore:
    """In-process store (one worker): a TTL + LRU bounded map."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self._records: TTLCache[tuple[str, str], str] = TTLCache(maxsize=max_entries, ttl=ttl)

    async def admit(self, repository: str, digests: Iterable[str], fingerprint: str) -> None:
        for digest in digests:
            self._records[(repository, digest)] = fingerprint

    async def admitted(self, repository: str, digest: str, fingerprint: str) -> bool:
        return self._records.get((repository, digest)) == fingerprint


class SharedAdmissionStore:
    """Admission records in Redis, so every worker and replica honours them.

    A client's manifest and blob requests may land on different processes; the record one of
    them writes must open the blob for the others. This process's own records are also kept
    locally, so a Redis outage only narrows what it honours to what it admitted itself.
    """

    def __init__(self, redis: SharedRedis, ttl: float, max_entries: int) -> None:
        self._redis = redis
        self._local = MemoryAdmissionStore(ttl, max_entries)
        self._ttl_ms = max(1, int(ttl * 1000))

    async def admit(self, repository: str, digests: Iterable[str], fingerprint: str) -> None:
        digests = list(digests)
        await self._local.admit(repository, digests, fingerprint)
        keys = [_key(repository, digest, fingerprint) for digest in digests]

        async def write(redis: Redis) -> None:
            async with redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, b"1", px=self._ttl_ms)
                await pipe.execute()

        with contextlib.suppress(StoreUnavailable):
            await self._redis.run(write)

    async def admitted(self, repository: str, digest: str, fingerprint: str) -> bool:
        if await self._local.admitted(repository, digest, fingerprint):
            return True
        key = _key(repository, digest, fingerprint)
        try:
            found = await self._redis.run(lambda redis: redis.exists(key))
        except StoreUnavailable:
            return False  # fail closed: only this process's own records count now
        if found:
            await self._local.admit(repository, (digest,), fingerprint)
        return bool(found)


def _key(repository: str, digest: str, fingerprint: str) -> str:
    # The policy fingerprint is part of the key: replicas mid-reload keep separate records.
    return f"gatekeeper:admitted:{fingerprint.removeprefix('sha256:')[:16]}:{repository}@{digest}"

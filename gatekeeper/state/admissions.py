"""What admission decided earlier, for the requests that follow it.

Two kinds of record, kept apart so one can never stand in for the other:
- ``blob``: a manifest admitted in a repository opens its config and layer blobs there;
- ``child``: an image index admitted in a repository lets the manifests it lists inherit
  its signature when pulled by digest (the record holds the index digest).

A record is only honoured under the policy fingerprint that wrote it, so a policy change
closes everything it would no longer admit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, Protocol

from cachetools import TTLCache

from gatekeeper.state.shared_redis import SharedRedis, StoreUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

Kind = Literal["blob", "child"]


class AdmissionStore(Protocol):
    async def open_blobs(self, repository: str, digests: Iterable[str], fingerprint: str) -> None:
        """Record ``digests`` as blobs of a manifest admitted in ``repository``."""

    async def blob_opened(self, repository: str, digest: str, fingerprint: str) -> bool:
        """True when an admitted manifest in ``repository`` lists blob ``digest``."""

    async def open_children(
        self, repository: str, parent: str, digests: Iterable[str], fingerprint: str
    ) -> None:
        """Record ``digests`` as children of the index ``parent`` admitted in ``repository``."""

    async def parent_of(self, repository: str, digest: str, fingerprint: str) -> str | None:
        """The admitted index in ``repository`` that lists manifest ``digest``, if any."""


class MemoryAdmissionStore:
    """In-process store (one worker): a TTL + LRU bounded map."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self._records: TTLCache[tuple[Kind, str, str], tuple[str, str]] = TTLCache(
            maxsize=max_entries, ttl=ttl
        )

    def put(
        self, kind: Kind, repository: str, digests: Iterable[str], fingerprint: str, value: str
    ) -> None:
        for digest in digests:
            self._records[(kind, repository, digest)] = (fingerprint, value)

    def get(self, kind: Kind, repository: str, digest: str, fingerprint: str) -> str | None:
        record = self._records.get((kind, repository, digest))
        if record is None or record[0] != fingerprint:
            return None
        return record[1]

    async def open_blobs(self, repository: str, digests: Iterable[str], fingerprint: str) -> None:
        self.put("blob", repository, digests, fingerprint, "1")

    async def blob_opened(self, repository: str, digest: str, fingerprint: str) -> bool:
        return self.get("blob", repository, digest, fingerprint) is not None

    async def open_children(
        self, repository: str, parent: str, digests: Iterable[str], fingerprint: str
    ) -> None:
        self.put("child", repository, digests, fingerprint, parent)

    async def parent_of(self, repository: str, digest: str, fingerprint: str) -> str | None:
        return self.get("child", repository, digest, fingerprint)


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

    async def _put(
        self, kind: Kind, repository: str, digests: Iterable[str], fingerprint: str, value: str
    ) -> None:
        digests = list(digests)
        self._local.put(kind, repository, digests, fingerprint, value)
        keys = [_key(kind, repository, digest, fingerprint) for digest in digests]

        async def write(redis: Redis) -> None:
            async with redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, value.encode(), px=self._ttl_ms)
                await pipe.execute()

        with contextlib.suppress(StoreUnavailable):
            await self._redis.run(write)

    async def _get(self, kind: Kind, repository: str, digest: str, fingerprint: str) -> str | None:
        local = self._local.get(kind, repository, digest, fingerprint)
        if local is not None:
            return local
        key = _key(kind, repository, digest, fingerprint)
        try:
            found = await self._redis.run(lambda redis: redis.get(key))
        except StoreUnavailable:
            return None  # fail closed: only this process's own records count now
        if not isinstance(found, bytes):
            return None
        value = found.decode(errors="replace")
        self._local.put(kind, repository, (digest,), fingerprint, value)
        return value

    async def open_blobs(self, repository: str, digests: Iterable[str], fingerprint: str) -> None:
        await self._put("blob", repository, digests, fingerprint, "1")

    async def blob_opened(self, repository: str, digest: str, fingerprint: str) -> bool:
        return await self._get("blob", repository, digest, fingerprint) is not None

    async def open_children(
        self, repository: str, parent: str, digests: Iterable[str], fingerprint: str
    ) -> None:
        await self._put("child", repository, digests, fingerprint, parent)

    async def parent_of(self, repository: str, digest: str, fingerprint: str) -> str | None:
        return await self._get("child", repository, digest, fingerprint)


def _key(kind: Kind, repository: str, digest: str, fingerprint: str) -> str:
    # The policy fingerprint is part of the key: replicas mid-reload keep separate records.
    short = fingerprint.removeprefix("sha256:")[:16]
    return f"gatekeeper:admitted:{kind}:{short}:{repository}@{digest}"

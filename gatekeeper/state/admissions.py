"""What admission decided earlier, for the requests that follow it.

Two kinds of record, kept apart so one can never stand in for the other:
- ``blob``: a manifest admitted in a repository opens its config and layer blobs there;
- ``child``: an image index admitted in a repository lets the manifests it lists inherit
  its signature when pulled by digest (the record holds the index digest).

A record is only honoured under the policy fingerprint that wrote it, so a policy change
closes everything it would no longer admit.

Records are accounted per repository and per admitted manifest, so that no client can
evict another's (issue 10, finding 5: one global LRU let a few crafted manifests push every
other client's records out, and a blob admitted seconds earlier answered 403):
- one repository holds at most ``repository_entries`` records; beyond, its own oldest
  manifests go, whole (all the records one admission wrote leave together);
- all repositories together hold at most ``max_entries``; beyond, the oldest manifest of the
  repository holding the most records goes (fair share). A repository holding ``v`` records
  loses one only when no other repository holds more than ``v``: a flood in other
  repositories must fill more than ``max_entries / v`` of them to reach it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


@dataclass(slots=True)
class _Record:
    group: int  # the admission (one manifest) that wrote it last
    expires: float
    fingerprint: str
    value: str


class _Repository:
    """One repository's records, oldest admission first."""

    __slots__ = ("records",)

    def __init__(self) -> None:
        self.records: OrderedDict[tuple[Kind, str], _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self.records)

    def drop_expired(self, now: float) -> int:
        # One TTL for all, written in order: the expired ones are at the front.
        dropped = 0
        while self.records:
            first = next(iter(self.records.values()))
            if first.expires > now:
                break
            self.records.popitem(last=False)
            dropped += 1
        return dropped

    def drop_oldest_group(self, keep: int) -> int:
        """Remove the oldest admission's records (never those of ``keep``); how many."""
        if not self.records:
            return 0
        group = next(iter(self.records.values())).group
        if group == keep:
            return 0
        dropped = 0
        # A group's records are written together; those a later admission rewrote moved
        # on with it, so what is left of the oldest group is one run at the front.
        while self.records and next(iter(self.records.values())).group == group:
            self.records.popitem(last=False)
            dropped += 1
        return dropped


class MemoryAdmissionStore:
    """In-process store (one worker), bounded per repository and in total (fair share)."""

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        repository_entries: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.repository_entries = min(repository_entries or max_entries, max_entries)
        self._clock = clock
        self._repositories: dict[str, _Repository] = {}
        self._total = 0
        self._groups = itertools.count(1)
        self._ticks = itertools.count()
        # Largest repository first; stale entries (size changed since) are skipped lazily.
        self._sizes: list[tuple[int, int, str]] = []

    @property
    def entries(self) -> int:
        """Records held, all repositories together (expired ones not yet dropped included)."""
        return self._total

    def entries_of(self, repository: str) -> int:
        found = self._repositories.get(repository)
        return len(found) if found is not None else 0

    def put(
        self, kind: Kind, repository: str, digests: Iterable[str], fingerprint: str, value: str
    ) -> None:
        unique = list(dict.fromkeys(digests))
        if not unique:
            return
        now = self._clock()
        repo = self._repositories.get(repository)
        if repo is not None and self._fresh(repo, kind, unique, fingerprint, value, now):
            return
        if repo is None:
            repo = self._repositories[repository] = _Repository()
        before = len(repo)
        repo.drop_expired(now)
        group = next(self._groups)
        record = _Record(group, now + self.ttl, fingerprint, value)
        for digest in unique:
            key = (kind, digest)
            repo.records.pop(key, None)
            repo.records[key] = record  # shared: one record object per admission
        while len(repo) > self.repository_entries and repo.drop_oldest_group(group):
            pass
        self._total += len(repo) - before
        self._resized(repository, repo)
        self._share_fairly(group)

    def _fresh(
        self,
        repo: _Repository,
        kind: Kind,
        digests: list[str],
        fingerprint: str,
        value: str,
        now: float,
    ) -> bool:
        """True when this very admission was written less than a quarter TTL ago.

        A warm image is pulled again and again: rewriting its records each time (and
        re-ranking the repository) is work that changes nothing but the expiry, and the
        records still outlive the last pull by at least three quarters of the TTL.
        """
        first = repo.records.get((kind, digests[0]))
        if (
            first is None
            or first.fingerprint != fingerprint
            or first.value != value
            or first.expires - now < 0.75 * self.ttl
        ):
            return False
        return all(repo.records.get((kind, digest)) is first for digest in digests[1:])

    def get(self, kind: Kind, repository: str, digest: str, fingerprint: str) -> str | None:
        repo = self._repositories.get(repository)
        record = repo.records.get((kind, digest)) if repo is not None else None
        if record is None or record.fingerprint != fingerprint or record.expires <= self._clock():
            return None
        return record.value

    def _share_fairly(self, keep: int) -> None:
        """Over ``max_entries``: the largest repository gives up its oldest admission."""
        skipped: list[tuple[int, int, str]] = []
        while self._total > self.max_entries and self._sizes:
            size, tick, name = heapq.heappop(self._sizes)
            repo = self._repositories.get(name)
            if repo is None or len(repo) != -size:
                continue  # stale
            dropped = repo.drop_expired(self._clock()) or repo.drop_oldest_group(keep)
            if not dropped:
                skipped.append((size, tick, name))  # holds only the admission just written
                continue
            self._total -= dropped
            self._resized(name, repo)
        for entry in skipped:
            heapq.heappush(self._sizes, entry)
        if len(self._sizes) > 2 * len(self._repositories) + 64:
            self._sizes = [(-len(r), next(self._ticks), n) for n, r in self._repositories.items()]
            heapq.heapify(self._sizes)

    def _resized(self, name: str, repo: _Repository) -> None:
        if not repo.records:
            del self._repositories[name]
            return
        heapq.heappush(self._sizes, (-len(repo), next(self._ticks), name))

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


# KEYS: the repository's order (sorted set: digest → expiry in ms) and records (hash:
# digest → "<expiry ms> <value>"). ARGV: now ms, expiry ms, cap, ttl ms, value, digests….
# Atomic, so replicas writing the same repository at once cannot push it over its cap.
_PUT = """
local order, records = KEYS[1], KEYS[2]
local now, expires, cap, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local record = ARGV[2] .. ' ' .. ARGV[5]
-- one score per admission, above every earlier one: admissions in the same ms stay apart
local top = redis.call('ZRANGE', order, -1, -1, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= expires then expires = tonumber(top[2]) + 1 end
for i = 6, #ARGV do
  redis.call('ZADD', order, expires, ARGV[i])
  redis.call('HSET', records, ARGV[i], record)
end
local function drop(bound)
  for _, digest in ipairs(redis.call('ZRANGEBYSCORE', order, '-inf', bound)) do
    redis.call('HDEL', records, digest)
  end
  redis.call('ZREMRANGEBYSCORE', order, '-inf', bound)
end
drop(now)
local excess = redis.call('ZCARD', order) - cap
if excess > 0 then
  -- whole admissions (one expiry each), oldest first; never the one just written
  local last = redis.call('ZRANGE', order, excess - 1, excess - 1, 'WITHSCORES')
  drop('(' .. math.min(tonumber(last[2]) + 1, expires))
end
redis.call('PEXPIRE', order, ttl)
redis.call('PEXPIRE', records, ttl)
return redis.call('ZCARD', order)
"""


class SharedAdmissionStore:
    """Admission records in Redis, so every worker and replica honours them.

    A client's manifest and blob requests may land on different processes; the record one of
    them writes must open the blob for the others. This process's own records are also kept
    locally, so a Redis outage only narrows what it honours to what it admitted itself.

    In Redis, each (kind, policy, repository) holds at most ``repository_entries`` records in
    two keys that expire ``ttl`` after the repository's last admission; the oldest admissions
    go first, whole.
    """

    def __init__(
        self,
        redis: SharedRedis,
        ttl: float,
        max_entries: int,
        repository_entries: int | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._local = MemoryAdmissionStore(ttl, max_entries, repository_entries)
        self._ttl_ms = max(1, int(ttl * 1000))
        self._cap = self._local.repository_entries
        self._wall_clock = wall_clock  # expiry is compared across replicas: wall time
        # A warm image is pulled again and again; its records in Redis are rewritten (and
        # their expiry pushed out) at most once per quarter TTL, not on every pull: one Redis
        # round trip saved per warm pull. The records still outlive the last pull by ≥ 3/4 TTL
        # (a Redis restart losing them is healed within a quarter TTL; meanwhile other
        # processes refuse those blobs: fail closed).
        self._written: TTLCache[tuple[object, ...], bool] = TTLCache(
            maxsize=4096, ttl=max(ttl / 4, 0.001)
        )

    async def _put(
        self, kind: Kind, repository: str, digests: Iterable[str], fingerprint: str, value: str
    ) -> None:
        unique = list(dict.fromkeys(digests))
        if not unique:
            return
        self._local.put(kind, repository, unique, fingerprint, value)
        recent = (kind, repository, fingerprint, value, tuple(unique))
        if recent in self._written:
            return
        now = int(self._wall_clock() * 1000)
        keys = _keys(kind, repository, fingerprint)
        args: list[str | int] = [now, now + self._ttl_ms, self._cap, self._ttl_ms, value, *unique]

        async def write(redis: Redis) -> object:
            return await redis.register_script(_PUT)(keys=list(keys), args=args)

        with contextlib.suppress(StoreUnavailable):
            await self._redis.run(write)
            self._written[recent] = True

    async def _get(self, kind: Kind, repository: str, digest: str, fingerprint: str) -> str | None:
        local = self._local.get(kind, repository, digest, fingerprint)
        if local is not None:
            return local
        records = _keys(kind, repository, fingerprint)[1]
        try:
            found = await self._redis.run(lambda redis: redis.hget(records, digest))
        except StoreUnavailable:
            return None  # fail closed: only this process's own records count now
        if not isinstance(found, bytes):
            return None
        expires, _, value = found.decode(errors="replace").partition(" ")
        remaining = (int(expires) if expires.isdigit() else 0) / 1000 - self._wall_clock()
        if remaining <= 0:
            return None
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


def _keys(kind: Kind, repository: str, fingerprint: str) -> tuple[str, str]:
    # The policy fingerprint is part of the key: replicas mid-reload keep separate records.
    short = fingerprint.removeprefix("sha256:")[:16]
    base = f"gatekeeper:admitted:{kind}:{short}:{repository}"
    return f"{base}:order", f"{base}:records"

"""Which digests were recently admitted in which repository, under which policy.

Admitting a manifest opens its config and layer blobs; admitting an index opens its child
manifests. A record is only honoured under the policy fingerprint that wrote it, so a policy
change closes everything it would no longer admit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from cachetools import TTLCache


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

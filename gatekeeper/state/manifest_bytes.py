"""Admitted manifest bytes by digest, served again without asking the upstream.

The bytes behind a digest never change, so once gatekeeper has fetched, digested and admitted
a manifest, a later pull by that digest can be answered from memory: the decision is still
made again (by the policy in force, with its warm evidence caches), only the upstream round
trip is saved. Who may be served from memory is the caller's question (the pull handler):
in mirror mode every client (all reads use gatekeeper's own credentials); at a front door
only anonymous clients, and only bytes the upstream gave an anonymous request — a registry
that authorises each client's read keeps doing so for everyone else.

Bounded in bytes (LRU); a manifest larger than an eighth of the budget is not kept. Entries
older than ``max_age`` are not served (a deletion or a permission change at the registry
itself is seen within that time); deletes through gatekeeper evict at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cachetools import LRUCache

from gatekeeper import metrics

_ENTRY_OVERHEAD = 512
_COUNTS = metrics.cache("served_manifests")


@dataclass(frozen=True, slots=True)
class StoredManifest:
    body: bytes
    content_type: str
    stored_at: float  # time.monotonic()


class ManifestBytes:
    def __init__(self, max_bytes: int, max_age: float | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._entries: LRUCache[tuple[str, str, str], StoredManifest] = LRUCache(
            max_bytes, getsizeof=lambda entry: len(entry.body) + _ENTRY_OVERHEAD
        )

    @property
    def held_bytes(self) -> int:
        return int(self._entries.currsize)

    def get(self, upstream: str, repository: str, digest: str) -> StoredManifest | None:
        """The bytes of ``repository@digest`` on ``upstream`` if kept (their digest checked)."""
        entry = self._entries.get((upstream, repository, digest))
        expired = (
            entry is not None
            and self.max_age is not None
            and time.monotonic() - entry.stored_at > self.max_age
        )
        if expired:
            self._entries.pop((upstream, repository, digest), None)
            entry = None
        _COUNTS.count(entry is not None)
        return entry

    def put(
        self, upstream: str, repository: str, digest: str, body: bytes, content_type: str
    ) -> None:
        """Keep ``body``; ``digest`` must be the digest gatekeeper computed over it."""
        if len(body) + _ENTRY_OVERHEAD <= self.max_bytes // 8:
            stored = StoredManifest(body, content_type, time.monotonic())
            self._entries[(upstream, repository, digest)] = stored

    def evict(self, upstream: str, repository: str, digest: str) -> None:
        self._entries.pop((upstream, repository, digest), None)


def accepts(accept_lines: list[str], media_type: str) -> bool:
    """True when the client's ``Accept`` lines (podman sends several) admit ``media_type``.

    No ``Accept`` at all is not taken as "anything": registries then answer with what suits
    old clients, so such a request goes to the upstream.
    """
    wanted = media_type.split(";", 1)[0].strip().lower()
    for line in accept_lines:
        for item in line.split(","):
            offered = item.split(";", 1)[0].strip().lower()
            if offered in (wanted, "*/*"):
                return True
    return False

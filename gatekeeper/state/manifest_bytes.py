"""Admitted manifest bytes by digest, served again without asking the upstream (mirror mode).

The bytes behind a digest never change, so once gatekeeper has fetched, digested and admitted
a manifest, a later pull by that digest can be answered from memory: the decision is still
made again (by the policy in force, with its warm evidence caches), only the upstream round
trip is saved. Mirror mode only: there every client sees the same content under gatekeeper's
own credentials, whereas a front-door registry authorises each client's read itself.

Bounded in bytes (LRU); a manifest larger than an eighth of the budget is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachetools import LRUCache

from gatekeeper import metrics

_ENTRY_OVERHEAD = 512
_COUNTS = metrics.cache("mirror_manifests")


@dataclass(frozen=True, slots=True)
class StoredManifest:
    body: bytes
    content_type: str


class ManifestBytes:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: LRUCache[tuple[str, str, str], StoredManifest] = LRUCache(
            max_bytes, getsizeof=lambda entry: len(entry.body) + _ENTRY_OVERHEAD
        )

    @property
    def held_bytes(self) -> int:
        return int(self._entries.currsize)

    def get(self, upstream: str, repository: str, digest: str) -> StoredManifest | None:
        """The bytes of ``repository@digest`` on ``upstream`` if kept (their digest checked)."""
        stored = self._entries.get((upstream, repository, digest))
        _COUNTS.count(stored is not None)
        return stored

    def put(
        self, upstream: str, repository: str, digest: str, body: bytes, content_type: str
    ) -> None:
        """Keep ``body``; ``digest`` must be the digest gatekeeper computed over it."""
        if len(body) + _ENTRY_OVERHEAD <= self.max_bytes // 8:
            self._entries[(upstream, repository, digest)] = StoredManifest(body, content_type)


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

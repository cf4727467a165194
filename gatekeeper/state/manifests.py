"""Parsed manifests by digest: the bytes behind a digest never change, so neither do the
facts parsed from them (an LRU, bounded; a hot image is parsed once, not per pull)."""

from __future__ import annotations

from cachetools import LRUCache

from gatekeeper.oci.manifest import Manifest, parse_manifest


class ParsedManifests:
    def __init__(self, max_entries: int = 4096) -> None:
        self._parsed: LRUCache[tuple[str, str | None], Manifest] = LRUCache(max_entries)

    def parse(self, digest: str, data: bytes, content_type: str | None) -> Manifest:
        """``parse_manifest(data, content_type)``, remembered under ``digest``.

        ``digest`` must be the digest gatekeeper computed over ``data`` itself.
        """
        key = (digest, content_type)
        manifest = self._parsed.get(key)
        if manifest is None:
            manifest = parse_manifest(data, content_type)  # errors are not remembered
            self._parsed[key] = manifest
        return manifest

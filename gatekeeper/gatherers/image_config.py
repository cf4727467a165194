"""ImageConfigs: the ImageGatherer, reading image config blobs from the upstream.

Facts are cached by manifest digest (a digest's config never changes). An index is judged
by its platform images (each scanned for secrets once, in a worker thread), up to
``max_platforms`` of them (more is refused: gatekeeper will
not vouch for platforms it did not read); buildkit attestation manifests (platform
``unknown/unknown``) are not images and are skipped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from cachetools import LRUCache

from gatekeeper import metrics
from gatekeeper.admission.evidence import Subject
from gatekeeper.errors import GatekeeperError, ManifestInvalid
from gatekeeper.oci.image_config import MAX_CONFIG_BYTES, parse_image_config
from gatekeeper.oci.manifest import Descriptor, Manifest, parse_manifest
from gatekeeper.policy.evidence import ImageFacts
from gatekeeper.policy.image_checks import merge_platforms
from gatekeeper.policy.model import ImagePolicy
from gatekeeper.policy.secret_values import find_secrets
from gatekeeper.state.singleflight import SingleFlight
from gatekeeper.upstream.client import Upstream
from gatekeeper.upstream.reads import fetch_blob, fetch_optional_manifest

_COUNTS = metrics.cache("image_configs")


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_platforms: int = 16
    manifest_bytes: int = 4 * 1024 * 1024
    config_bytes: int = MAX_CONFIG_BYTES
    cached_images: int = 10_000


class ImageConfigs:
    def __init__(self, upstream: Upstream, limits: ImageLimits = ImageLimits()) -> None:
        self._upstream = upstream
        self._limits = limits
        self._facts: LRUCache[tuple[str, str], ImageFacts] = LRUCache(limits.cached_images)
        self._flights: SingleFlight[tuple[str, str], ImageFacts] = SingleFlight()

    async def __call__(self, subject: Subject, policy: ImagePolicy) -> ImageFacts:
        key = (subject.repository, subject.digest)
        cached = self._facts.get(key)
        _COUNTS.count(cached is not None)
        if cached is not None:
            return cached
        facts = await self._flights.run(key, lambda: self._gather(subject))
        self._facts[key] = facts
        return facts

    async def _gather(self, subject: Subject) -> ImageFacts:
        upstream, repository = subject.source(self._upstream)
        if not subject.manifest.is_index:
            return await self._image(upstream, repository, subject.manifest)
        children = [d for d in subject.manifest.manifests if not _is_attestation(d)]
        if len(children) > self._limits.max_platforms:
            raise ManifestInvalid(
                f"index lists {len(children)} platforms, more than the "
                f"{self._limits.max_platforms} gatekeeper checks"
            )
        platforms = await asyncio.gather(*(self._child(upstream, repository, d) for d in children))
        return merge_platforms(platforms)

    async def _child(self, upstream: Upstream, repository: str, child: Descriptor) -> ImageFacts:
        fetched = await fetch_optional_manifest(
            upstream, repository, child.digest, self._limits.manifest_bytes
        )
        if fetched is None:
            raise GatekeeperError(f"platform manifest {child.digest} is missing upstream")
        manifest = parse_manifest(fetched.data, fetched.content_type)
        if manifest.is_index:
            raise ManifestInvalid(f"nested index {child.digest} is not checked")
        return await self._image(upstream, repository, manifest)

    async def _image(self, upstream: Upstream, repository: str, manifest: Manifest) -> ImageFacts:
        if manifest.config is None:
            raise ManifestInvalid("image manifest has no config")
        data = await fetch_blob(
            upstream, repository, manifest.config.digest, self._limits.config_bytes
        )
        facts = parse_image_config(data, manifest)
        # Secrets are looked for once per image, off the event loop: detect-secrets' regexes
        # over a 4 MiB config take about a second.
        return replace(facts, secrets=await asyncio.to_thread(find_secrets, facts))


def _is_attestation(descriptor: Descriptor) -> bool:
    platform = descriptor.platform or {}
    return platform.get("os") == "unknown" and platform.get("architecture") == "unknown"

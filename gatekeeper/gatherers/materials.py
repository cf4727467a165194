"""Trust material per SignaturePolicy for the gatherers: loaded off the event loop, kept briefly.

Loading reads key files and a trusted root (file I/O and parsing), so it runs in a thread;
keeping it ``ttl`` seconds lets a replaced key file take effect without a policy reload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cachetools import TTLCache

from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.material import TrustMaterial, load_trust_material


class Materials:
    """``await materials.get(policy)`` → the policy's TrustMaterial (TrustError if unusable)."""

    def __init__(
        self,
        load: Callable[[SignaturePolicy], TrustMaterial] = load_trust_material,
        *,
        ttl: float = 60.0,
        max_entries: int = 256,
    ) -> None:
        self._load = load
        self._cache: TTLCache[SignaturePolicy, TrustMaterial] = TTLCache(max_entries, ttl)

    async def get(self, policy: SignaturePolicy) -> TrustMaterial:
        material = self._cache.get(policy)
        if material is None:
            material = await asyncio.to_thread(self._load, policy)
            self._cache[policy] = material
        return material

"""The trust material one SignaturePolicy names: its keys and its Sigstore trusted root.

Parsed once, when the policy is compiled (:mod:`gatekeeper.policy.sections`; file reads
only, never the network), carried on ``SignaturePolicy.material`` and fingerprinted so that
the policy fingerprint changes when a key or trusted root does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.keys import TrustedKey, load_key_file
from gatekeeper.trust.trusted_root import (
    TrustedRoot,
    load_trusted_root_file,
    production_trusted_root,
)

_FINGERPRINT_VERSION = b"gatekeeper trust material v1\n"


@dataclass(frozen=True, slots=True)
class TrustMaterial:
    """Keys (deduplicated by key id, in policy order) and the trusted root.

    Equal (and hashed) by ``fingerprint`` alone, which names exactly the keys and root, so
    the material is a cheap part of a cache key.
    """

    keys: tuple[TrustedKey, ...] = field(compare=False)
    root: TrustedRoot = field(compare=False, repr=False)
    fingerprint: str  # sha256 hex over the key ids and the trusted root bytes

    @property
    def key_ids(self) -> str:
        """Short key ids for messages: ``a1b2…, c3d4…`` or ``none``."""
        return ", ".join(key.short_id for key in self.keys) or "none"


def trust_material(keys: tuple[TrustedKey, ...], root: TrustedRoot) -> TrustMaterial:
    """Combine loaded keys and root, dropping duplicate keys, and fingerprint them."""
    unique: dict[str, TrustedKey] = {}
    for key in keys:
        unique.setdefault(key.key_id, key)
    digest = hashlib.sha256(_FINGERPRINT_VERSION)
    for key_id in sorted(unique):
        digest.update(f"key {key_id}\n".encode())
    digest.update(f"trusted_root {root.sha256}\n".encode())
    return TrustMaterial(tuple(unique.values()), root, digest.hexdigest())


def load_trust_material(policy: SignaturePolicy) -> TrustMaterial:
    """Read the policy's key files and trusted root (production root when none is named).

    For tools and tests that build a SignaturePolicy by hand; a compiled policy carries its
    material already (``policy.material``), and the running gate uses only that. Raises
    TrustError naming the file that cannot be used.
    """
    keys = tuple(load_key_file(path) for path in policy.keys)
    if policy.trusted_root is None:
        root = production_trusted_root()
    else:
        root = load_trusted_root_file(policy.trusted_root)
    return trust_material(keys, root)


def trust_scope(policy: SignaturePolicy, material: TrustMaterial) -> str:
    """16 hex digits naming whom ``policy`` trusts: its material, identities and log rule.

    Two rules with the same scope accept exactly the same signatures, so a verdict verified
    under one may be reused under the other; ``threshold`` is left out (it counts signers,
    it does not say which are trusted).
    """
    digest = hashlib.sha256(_FINGERPRINT_VERSION)
    digest.update(f"material {material.fingerprint}\n".encode())
    for identity in policy.keyless:
        pattern = identity.subject_regex.pattern if identity.subject_regex else None
        issuer_pattern = identity.issuer_regex.pattern if identity.issuer_regex else None
        claims = [(m.name, m.value, m.regex.pattern if m.regex else None) for m in identity.claims]
        described = (identity.issuer, identity.subject, pattern, issuer_pattern, claims)
        digest.update(repr(described).encode() + b"\n")
    digest.update(f"transparency_log {policy.transparency_log}\n".encode())
    if policy.timestamps != "optional":  # left out at the default: scopes stay as they were
        digest.update(f"timestamps {policy.timestamps}\n".encode())
    return digest.hexdigest()[:16]

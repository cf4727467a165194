"""A key-signed bundle's log entries and timestamps, against ``transparency_log`` and
``timestamps`` of the policy.

sigstore-python verifies only certificate bundles, so a public-key bundle's evidence is checked
here, entry by entry; every entry and timestamp present must verify (a forged one is an attack,
never noise), then the policy says how many must exist:

* an entry with a SET (Rekor v1 inclusion promise): the SET verifies with the log key valid at
  ``integratedTime`` and the body (``dsse``/``intoto``/``hashedrekord`` 0.0.1) names this
  payload, signature and key (:mod:`gatekeeper.trust.rekor`);
* an entry without one (Rekor v2): its inclusion proof and signed checkpoint verify
  (:mod:`gatekeeper.trust.inclusion`) and the body (``hashedrekord``/``dsse`` 0.0.2, or a v1
  kind) names this envelope, signature and key (:mod:`gatekeeper.trust.rekor_v2`);
* RFC 3161 timestamps verify against the trusted root's TSAs
  (:mod:`gatekeeper.trust.timestamps`); the first verified time dates the checkpoint's log key.

``transparency_log: required`` needs one verified entry (SET or inclusion proof);
``timestamps: required`` needs one verified timestamp.
"""

from __future__ import annotations

from typing import Any

from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.inclusion import verify_inclusion
from gatekeeper.trust.keys import TrustedKey
from gatekeeper.trust.limits import TrustLimits
from gatekeeper.trust.material import TrustMaterial
from gatekeeper.trust.rekor import (
    check_dsse_entry,
    parse_body,
    parse_bundle_entry,
    parse_entry_body,
    verify_set,
)
from gatekeeper.trust.rekor_v2 import V2_KINDS, check_v2_dsse_entry
from gatekeeper.trust.timestamps import verify_timestamps


def check_keyed_log(
    material_doc: dict[str, Any],
    *,
    pae: bytes,
    payload: bytes,
    signature: bytes,
    key: TrustedKey,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits,
) -> None:
    """Raise SignatureRejected unless the bundle's entries and timestamps satisfy ``policy``."""
    times = verify_timestamps(material_doc, signature, material.root, limits)
    if policy.timestamps == "required" and not times:
        raise SignatureRejected("bundle has no RFC 3161 timestamp; the policy requires one")
    raw_entries = material_doc.get("tlogEntries", [])
    if not isinstance(raw_entries, list) or len(raw_entries) > limits.max_signatures:
        raise SignatureRejected("bundle tlogEntries is not a short list")
    for raw in raw_entries:
        entry = parse_bundle_entry(raw, limits)
        if entry is not None:  # Rekor v1: the SET dates and proves the entry
            verify_set(entry, material.root)
            claims = parse_entry_body(entry, limits)
            check_dsse_entry(
                claims, envelope=None, payload=payload, signature=signature, verifier=key.der
            )
            continue
        proven = verify_inclusion(raw, material.root, times[0] if times else None, limits)
        if (proven.kind, proven.version) in V2_KINDS:
            check_v2_dsse_entry(
                proven.body,
                pae=pae,
                payload=payload,
                signature=signature,
                verifier=key.der,
                limits=limits,
            )
        else:
            check_dsse_entry(
                parse_body(proven.body, limits),
                envelope=None,
                payload=payload,
                signature=signature,
                verifier=key.der,
            )
    if not raw_entries and policy.transparency_log != "optional":
        raise SignatureRejected(
            "bundle has no transparency log entry (SET or inclusion proof); the policy requires one"
        )

"""Signature evidence, verified offline: cosign legacy ``.sig`` layers and Sigstore bundles.

Pure of network I/O: functions take bytes already fetched from the registry plus trust
material loaded with the policy, and return signers or reasons. Entry points:
:func:`load_trust_material` (at policy load) and :func:`evaluate_signatures` (per image).
"""

from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial, load_trust_material
from gatekeeper.trust.verify import (
    BundleSignature,
    Candidate,
    LegacySignature,
    evaluate_signatures,
)

__all__ = [
    "DEFAULT_LIMITS",
    "BundleSignature",
    "Candidate",
    "LegacySignature",
    "SignatureRejected",
    "TrustError",
    "TrustLimits",
    "TrustMaterial",
    "evaluate_signatures",
    "load_trust_material",
]

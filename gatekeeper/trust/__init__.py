"""Signature evidence, verified offline: cosign legacy ``.sig`` layers and Sigstore bundles.

Pure of network I/O: functions take bytes already fetched from the registry plus trust
material loaded with the policy, and return signers or reasons. Entry points:
:func:`load_trust_material` (at policy load) and :func:`evaluate_signatures` (per image).
"""

from gatekeeper.trust.bundles import BUNDLE_MEDIA_TYPES, verify_bundle
from gatekeeper.trust.cosign_legacy import SIMPLE_SIGNING_MEDIA_TYPE, verify_legacy_signature
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
    "BUNDLE_MEDIA_TYPES",
    "DEFAULT_LIMITS",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "BundleSignature",
    "Candidate",
    "LegacySignature",
    "SignatureRejected",
    "TrustError",
    "TrustLimits",
    "TrustMaterial",
    "evaluate_signatures",
    "load_trust_material",
    "verify_bundle",
    "verify_legacy_signature",
]

"""Signature evidence, verified offline: cosign legacy ``.sig`` layers and Sigstore bundles,
and signed attestations (cosign ``.att`` layers, attestation bundles).

Pure of network I/O: functions take bytes already fetched from the registry plus trust
material parsed when the policy is compiled (:mod:`gatekeeper.policy.trust_files`, carried
on ``SignaturePolicy.material``), and return signers or reasons. Entry points:
:func:`evaluate_signatures` and :func:`evaluate_attestations` (per image).
"""

from gatekeeper.trust.attestations import (
    DSSE_MEDIA_TYPE,
    AttestationEvidence,
    VerifiedStatement,
    evaluate_attestations,
    verify_attestation,
)
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
    "DSSE_MEDIA_TYPE",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "AttestationEvidence",
    "BundleSignature",
    "Candidate",
    "LegacySignature",
    "SignatureRejected",
    "TrustError",
    "TrustLimits",
    "TrustMaterial",
    "VerifiedStatement",
    "evaluate_attestations",
    "evaluate_signatures",
    "load_trust_material",
    "verify_attestation",
    "verify_bundle",
    "verify_legacy_signature",
]

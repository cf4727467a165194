"""Fulcio signing certificates: chain to a trusted CA at a given moment, code-signing profile.

The moment is the one the transparency log vouches for (a Rekor entry's integratedTime, bound
by its SET), never the current time: Fulcio certificates live ten minutes.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
)
from cryptography.x509.verification import VerificationError as X509VerificationError

from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.trusted_root import TrustedRoot


def verify_chain(
    leaf: x509.Certificate,
    untrusted: list[x509.Certificate],
    root: TrustedRoot,
    at: datetime,
    max_depth: int,
) -> list[x509.Certificate]:
    """Chain ``leaf`` to a Fulcio CA valid at ``at``; return the chain above the leaf.

    ``untrusted`` intermediates (cosign's ``dev.sigstore.cosign/chain``) may help build the
    path but never anchor it: only certificates from the trusted root go in the store.
    """
    anchors = root.fulcio_certificates(at)
    if not anchors:
        raise SignatureRejected(f"no Fulcio CA in {root.source} was valid at {at:%F %T}Z")
    # Fulcio certificates carry the code-signing EKU, which the web PKI profile refuses, so
    # only the EKU check is relaxed (as sigstore-python's Verifier does); the EKU is
    # checked below instead.
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store(anchors))
        .time(at)
        .max_chain_depth(max_depth)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        chain = verifier.verify(leaf, untrusted).chain
    except (X509VerificationError, x509.UnsupportedGeneralNameType, ValueError) as exc:
        raise SignatureRejected(
            f"certificate does not chain to a Fulcio CA in {root.source} "
            f"at {at:%F %T}Z: {str(exc)[:120]}"
        ) from exc
    _check_code_signing(leaf)
    return chain[1:]


def _check_code_signing(leaf: x509.Certificate) -> None:
    # The Fulcio profile: digitalSignature key usage and the codeSigning EKU (cosign and
    # sigstore-python refuse certificates without them).
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise SignatureRejected("certificate lacks key usage or extended key usage") from exc
    if not usage.digital_signature or ExtendedKeyUsageOID.CODE_SIGNING not in extended:
        raise SignatureRejected("certificate is not a code-signing certificate")

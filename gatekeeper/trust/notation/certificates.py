"""Notary Project certificate rules and chain validation to a trust store.

``signature-specification.md`` "Certificate Requirements": the chain in the envelope is ordered
leaf → intermediates → root and holds nothing else; CA certificates carry a critical
basicConstraints with cA and a critical keyUsage with keyCertSign; the signing certificate a
critical keyUsage with digitalSignature (and none of the encipherment/agreement/CA bits), no
cA, and an extendedKeyUsage that, if present, names none of anyExtendedKeyUsage, serverAuth,
clientAuth, emailProtection, timeStamping; RSA keys ≥ 2048 bits, EC ≥ 256; no SHA-1
signatures. Only basicConstraints, keyUsage and extendedKeyUsage are honoured, so path
building with ``cryptography.x509.verification`` runs with ``ExtensionPolicy.permit_all()``
after these checks.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from cryptography.x509.verification import VerificationError as X509VerificationError

from gatekeeper.policy.notation import ATTRIBUTE_NAMES
from gatekeeper.trust.errors import SignatureRejected

_FORBIDDEN_EKU = {
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
}
_SHORT_NAMES = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.SERIAL_NUMBER: "SERIALNUMBER",
    NameOID.STREET_ADDRESS: "STREET",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.USER_ID: "UID",
    NameOID.EMAIL_ADDRESS: "EMAILADDRESS",
}
E = TypeVar("E", bound=x509.ExtensionType)
assert set(_SHORT_NAMES.values()) <= set(ATTRIBUTE_NAMES.values())


def load_chain(ders: tuple[bytes, ...]) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError as exc:
        raise SignatureRejected(f"certificate chain holds an invalid certificate: {exc}") from exc


def check_chain_shape(chain: list[x509.Certificate]) -> None:
    """Order, issuance, requirements of every certificate (no trust store involved)."""
    for cert in chain:
        if isinstance(cert.signature_hash_algorithm, hashes.SHA1):
            raise SignatureRejected(f"certificate {describe(cert)} is signed with SHA-1")
    check_signing_certificate(chain[0])
    for child, parent in itertools.pairwise(chain):
        _check_ca(parent)
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise SignatureRejected(
                f"certificate chain is out of order: {describe(child)} is not issued by"
                f" {describe(parent)}"
            ) from exc
    root = chain[-1]
    try:
        root.verify_directly_issued_by(root)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise SignatureRejected(
            f"certificate chain does not end with a self-signed root ({describe(root)})"
        ) from exc


def check_signing_certificate(cert: x509.Certificate) -> None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise SignatureRejected("signing certificate has an RSA key shorter than 2048 bits")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 256:
        raise SignatureRejected("signing certificate has an EC key shorter than 256 bits")
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.value.ca:
        raise SignatureRejected("signing certificate is a CA certificate (basicConstraints cA)")
    usage = _extension(cert, x509.KeyUsage)
    if usage is None or not usage.critical:
        raise SignatureRejected("signing certificate lacks a critical keyUsage extension")
    ku = usage.value
    forbidden = ku.key_encipherment or ku.data_encipherment or ku.key_agreement
    if not ku.digital_signature or forbidden or ku.key_cert_sign or ku.crl_sign:
        raise SignatureRejected(
            "signing certificate keyUsage must be digitalSignature without encipherment,"
            " agreement or CA bits"
        )
    extended = _extension(cert, x509.ExtendedKeyUsage)
    if extended is not None:
        for oid, name in _FORBIDDEN_EKU.items():
            if oid in extended.value:
                raise SignatureRejected(f"signing certificate extendedKeyUsage includes {name}")


def _check_ca(cert: x509.Certificate) -> None:
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is None or not constraints.critical or not constraints.value.ca:
        raise SignatureRejected(
            f"CA certificate {describe(cert)} lacks a critical basicConstraints with cA"
        )
    usage = _extension(cert, x509.KeyUsage)
    if usage is None or not usage.critical or not usage.value.key_cert_sign:
        raise SignatureRejected(
            f"CA certificate {describe(cert)} lacks a critical keyUsage with keyCertSign"
        )


def chain_to_store(
    chain: list[x509.Certificate],
    roots: tuple[x509.Certificate, ...],
    at: datetime,
    store_name: str,
) -> None:
    """Build a path from the leaf to a root of the store with validity checked at ``at``."""
    if not roots:
        raise SignatureRejected(f"no {store_name} trust store is configured for this signature")
    anchors = [cert for cert in chain if cert in roots]
    if not anchors:
        raise SignatureRejected(
            f"certificate chain (root {describe(chain[-1])}) does not lead to a certificate"
            f" in the {store_name} trust store"
        )
    # cryptography insists that a CA policy requires basicConstraints (Notary: critical).
    ca_policy = ExtensionPolicy.permit_all().require_present(
        x509.BasicConstraints, Criticality.CRITICAL, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(at)
        .max_chain_depth(max(len(chain), 1))
        .extension_policies(ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(chain[0], chain[1:])
    except (X509VerificationError, ValueError) as exc:
        raise SignatureRejected(
            f"certificate chain does not verify to the {store_name} trust store at"
            f" {at:%F %T}Z: {str(exc)[:120]}"
        ) from exc


def validity_problem(chain: list[x509.Certificate], start: datetime, end: datetime) -> str | None:
    """Why some certificate is not valid over the whole of ``[start, end]`` (None: valid)."""
    for cert in chain:
        if start < cert.not_valid_before_utc:
            since = cert.not_valid_before_utc
            return f"certificate {describe(cert)} is not valid before {since:%F %T}Z"
        if end > cert.not_valid_after_utc:
            return f"certificate {describe(cert)} expired at {cert.not_valid_after_utc:%F %T}Z"
    return None


def subject_attributes(cert: x509.Certificate) -> dict[str, str]:
    """The subject as short name → value; repeated or multi-valued attributes are refused."""
    out: dict[str, str] = {}
    for rdn in cert.subject.rdns:
        if len(rdn) != 1:
            raise SignatureRejected("signing certificate subject has a multi-valued RDN")
        (attribute,) = tuple(rdn)
        name = _SHORT_NAMES.get(attribute.oid, attribute.oid.dotted_string)
        if name in out:
            raise SignatureRejected(f"signing certificate subject repeats {name}")
        out[name] = str(attribute.value)
    return out


def describe(cert: x509.Certificate) -> str:
    """A certificate's subject for messages (bounded)."""
    return repr(cert.subject.rfc4514_string()[:120])


def _extension(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E] | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None

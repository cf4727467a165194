"""Notation trust stores: root certificates read from PEM or DER files at policy load.

A Notary Project trust store is a set of root certificates (``x509/ca``, ``x509/signingAuthority``,
``x509/tsa`` in Notation's directory layout). gatekeeper's policy names the files directly;
each may hold one DER certificate or any number of PEM certificates. A file that holds no
certificate, or a block that does not parse, is a load error naming the file and the line
where the block starts.

Every certificate must be a CA certificate (basicConstraints cA) or a self-signed one
(``trust-store-trust-policy.md``: "Certificates in a trust store are root certificates";
notation-go's ``truststore.ValidateCertificates`` refuses any other, with the same rule). A
leaf signing certificate issued by someone else in a trust store would pin that leaf and
hide who actually vouches for it, so it is a load error naming the file and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from gatekeeper.trust.errors import TrustError

MAX_STORE_FILE_BYTES = 1024 * 1024
MAX_STORE_CERTIFICATES = 256
_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_FINGERPRINT_VERSION = b"gatekeeper notation trust v1\n"


@dataclass(frozen=True, slots=True)
class NotationTrust:
    """Root certificates per trust store type; equal (and hashed) by ``fingerprint``."""

    ca: tuple[x509.Certificate, ...] = field(compare=False, repr=False)
    signing_authority: tuple[x509.Certificate, ...] = field(compare=False, repr=False)
    tsa: tuple[x509.Certificate, ...] = field(compare=False, repr=False)
    fingerprint: str  # sha256 hex over each store's sorted certificate digests


def notation_trust(
    ca: tuple[x509.Certificate, ...],
    signing_authority: tuple[x509.Certificate, ...] = (),
    tsa: tuple[x509.Certificate, ...] = (),
) -> NotationTrust:
    """Combine parsed stores (duplicates dropped) and fingerprint them."""
    digest = hashlib.sha256(_FINGERPRINT_VERSION)
    stores = []
    for name, certs in (("ca", ca), ("signingAuthority", signing_authority), ("tsa", tsa)):
        unique = {_sha256(cert): cert for cert in certs}
        for cert_digest in sorted(unique):
            digest.update(f"{name} {cert_digest}\n".encode())
        stores.append(tuple(unique.values()))
    return NotationTrust(stores[0], stores[1], stores[2], digest.hexdigest())


def load_certificates(data: bytes, source: str) -> tuple[x509.Certificate, ...]:
    """Every certificate in ``data`` (PEM blocks, or one DER certificate)."""
    if _BEGIN not in data:
        try:
            cert = x509.load_der_x509_certificate(data)
        except ValueError as exc:
            raise TrustError(f"{source}: no PEM certificate and not a DER certificate") from exc
        _check_root(cert, f"{source}:1")
        return (cert,)
    certs: list[x509.Certificate] = []
    start = data.find(_BEGIN)
    while start != -1:
        line = data.count(b"\n", 0, start) + 1
        end = data.find(_END, start)
        if end == -1:
            raise TrustError(f"{source}:{line}: certificate block has no END line")
        block = data[start : end + len(_END)]
        try:
            certs.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            raise TrustError(f"{source}:{line}: not a valid certificate ({exc})") from exc
        _check_root(certs[-1], f"{source}:{line}")
        if len(certs) > MAX_STORE_CERTIFICATES:
            raise TrustError(f"{source}: more than {MAX_STORE_CERTIFICATES} certificates")
        start = data.find(_BEGIN, end)
    return tuple(certs)


def _check_root(cert: x509.Certificate, where: str) -> None:
    """A CA certificate, or one that is self-signed (TrustError otherwise)."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            return
    except x509.ExtensionNotFound:
        pass
    except ValueError as exc:
        raise TrustError(f"{where}: certificate has malformed extensions ({exc})") from exc
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError) as exc:
        subject = cert.subject.rfc4514_string()[:120]
        raise TrustError(
            f"{where}: certificate {subject!r} is neither a CA certificate nor self-signed;"
            " a Notation trust store holds root certificates"
        ) from exc


def _sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()

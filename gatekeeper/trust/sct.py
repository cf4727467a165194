"""Embedded Signed Certificate Timestamps: proof that Fulcio logged a certificate in CT.

cosign refuses keyless signatures whose certificate has no SCT from a trusted CT log (unless
told ``--insecure-ignore-sct``); so does gatekeeper. The signed structure is RFC 6962 §3.2's
``digitally-signed`` struct for a precertificate entry.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.trusted_root import TrustedRoot

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SCTS = 8


def verify_embedded_sct(
    leaf: x509.Certificate, issuer: x509.Certificate, root: TrustedRoot
) -> None:
    """Pass when one embedded SCT verifies with a CT log key of ``root``."""
    try:
        scts = leaf.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        ).value
    except x509.ExtensionNotFound as exc:
        raise SignatureRejected("certificate has no embedded SCT (CT log proof)") from exc
    except ValueError as exc:
        raise SignatureRejected(f"certificate SCT extension is malformed: {exc}") from exc
    problems = []
    for sct in list(scts)[:_MAX_SCTS]:
        try:
            _verify_one(sct, leaf, issuer, root)
            return
        except SignatureRejected as exc:
            problems.append(exc.message)
    raise SignatureRejected(f"certificate SCT does not verify: {'; '.join(problems)[:200]}")


def _verify_one(
    sct: x509.certificate_transparency.SignedCertificateTimestamp,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    root: TrustedRoot,
) -> None:
    if sct.version != x509.certificate_transparency.Version.v1:
        raise SignatureRejected("SCT version is not v1")
    if sct.entry_type != x509.certificate_transparency.LogEntryType.PRE_CERTIFICATE:
        raise SignatureRejected("embedded SCT is not for a precertificate")
    if not isinstance(sct.signature_hash_algorithm, hashes.SHA256):
        raise SignatureRejected("SCT is not signed with SHA-256")
    when = sct.timestamp.replace(tzinfo=UTC)
    log_key = root.ct_key(sct.log_id.hex(), when)
    if not log_key.key.verify(sct.signature, _signed_struct(sct, leaf, issuer, when)):
        raise SignatureRejected(f"SCT signature of CT log {log_key.log_id[:16]} is invalid")


def _signed_struct(
    sct: x509.certificate_transparency.SignedCertificateTimestamp,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    when: datetime,
) -> bytes:
    # RFC 6962 §3.2: version(1) signature_type=certificate_timestamp(1) timestamp(8, ms)
    # entry_type=precert_entry(2) issuer_key_hash(32) tbs<3-byte length> extensions<2-byte>.
    issuer_spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tbs = leaf.tbs_precertificate_bytes
    millis = (when - _EPOCH) // timedelta(milliseconds=1)
    return b"".join(
        (
            struct.pack(">BBQH", 0, 0, millis, 1),
            hashlib.sha256(issuer_spki).digest(),
            len(tbs).to_bytes(3, "big"),
            tbs,
            struct.pack(">H", len(sct.extension_bytes)),
            sct.extension_bytes,
        )
    )

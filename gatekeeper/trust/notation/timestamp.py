"""RFC 3161 timestamp countersignatures on Notation signatures (``notary.x509`` only).

The envelope's ``io.cncf.notary.timestampSignature`` is a TimeStampToken (CMS SignedData)
over the primitive signature bytes. It is wrapped in a granted TimeStampResp so that
``rfc3161-client`` (sigstore's dependency) verifies the CMS signature, the signing-certificate
attribute, the TSA chain to the ``tsa_trust_store`` roots and the message imprint. The time
range ``genTime ± accuracy`` (``trust-store-trust-policy.md``, "Validate Authentic Timestamp")
is returned for the caller to check against the signing chain's validity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

from gatekeeper.trust.errors import SignatureRejected

_GRANTED = bytes.fromhex("3003020100")  # PKIStatusInfo { status granted(0) }


@dataclass(frozen=True, slots=True)
class TimestampRange:
    lower: datetime
    upper: datetime


def verify_timestamp(
    token: bytes, signature: bytes, roots: tuple[x509.Certificate, ...]
) -> TimestampRange:
    """Verify ``token`` over ``signature`` against TSA ``roots``; its time range."""
    try:
        response = decode_timestamp_response(_der_sequence(_GRANTED + token))
        builder = VerifierBuilder()
        for root in roots:
            builder = builder.add_root_certificate(root)
        builder.build().verify_message(response, signature)
    except (VerificationError, ValueError) as exc:
        raise SignatureRejected(f"timestamp countersignature does not verify: {exc}") from exc
    info = response.tst_info
    accuracy = timedelta()
    if info.accuracy is not None:
        accuracy = timedelta(
            seconds=info.accuracy.seconds or 0,
            milliseconds=info.accuracy.millis or 0,
            microseconds=info.accuracy.micros or 0,
        )
    return TimestampRange(info.gen_time - accuracy, info.gen_time + accuracy)


def _der_sequence(content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return b"\x30" + bytes([length]) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(encoded)]) + encoded + content

"""RFC 3161 timestamp countersignatures on Notation signatures (``notary.x509`` only).

The envelope's ``io.cncf.notary.timestampSignature`` is a TimeStampToken (CMS SignedData)
over the primitive signature bytes. It is wrapped in a granted TimeStampResp so that
``rfc3161-client`` (sigstore's dependency) verifies the CMS signature, the TSA certificate's
critical ``timeStamping`` usage, the TSA chain to the ``tsa_trust_store`` roots at ``genTime``
and the message imprint. The time range ``genTime ± accuracy`` (``trust-store-trust-policy.md``,
"Validate Authentic Timestamp") is returned for the caller to check against the signing
chain's validity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response
from rfc3161_client.tsp import Accuracy

from gatekeeper.trust.errors import SignatureRejected

_GRANTED = bytes.fromhex("3003020100")  # PKIStatusInfo { status granted(0) }
# RFC 3628 §5.2 baseline time-stamp policy: itu-t(0) identified-organization(4) etsi(0)
# time-stamp-policy(2023) policy-identifiers(1) baseline-ts-policy(1).
BASELINE_POLICY = x509.ObjectIdentifier("0.4.0.2023.1.1")
_SEQUENCE, _CERTIFICATES = 0x30, 0xA0  # SignedData.certificates is [0] IMPLICIT SET OF
MAX_TOKEN_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class TimestampRange:
    lower: datetime
    upper: datetime


def verify_timestamp(
    token: bytes, signature: bytes, roots: tuple[x509.Certificate, ...]
) -> TimestampRange:
    """Verify ``token`` over ``signature`` against TSA ``roots``; its time range."""
    if len(token) > MAX_TOKEN_BYTES:
        raise SignatureRejected(f"timestamp token is larger than {MAX_TOKEN_BYTES} bytes")
    try:
        response = decode_timestamp_response(_der_sequence(_GRANTED + der_sorted(token)))
        builder = VerifierBuilder()
        for root in roots:
            builder = builder.add_root_certificate(root)
        builder.build().verify_message(response, signature)
    except (VerificationError, ValueError) as exc:
        raise SignatureRejected(
            f"timestamp countersignature does not verify: {str(exc)[:160]}"
        ) from exc
    info = response.tst_info
    return timestamp_range(info.gen_time, info.accuracy, info.policy)


def timestamp_range(
    gen_time: datetime, accuracy: Accuracy | None, policy: x509.ObjectIdentifier | None
) -> TimestampRange:
    """``genTime`` ± accuracy, the accuracy chosen as ``trust-store-trust-policy.md`` says.

    "If the accuracy is explicitly specified in ``TSTInfo.accuracy``, use that value. If the
    accuracy is not explicitly specified and ``TSTInfo.policy`` is the baseline time-stamp
    policy (RFC 3628), use accuracy of 1 second. Otherwise, use an accuracy of 0."
    """
    if accuracy is not None:
        delta = timedelta(
            seconds=accuracy.seconds or 0,
            milliseconds=accuracy.millis or 0,
            microseconds=accuracy.micros or 0,
        )
    elif policy == BASELINE_POLICY:
        delta = timedelta(seconds=1)
    else:
        delta = timedelta()
    return TimestampRange(gen_time - delta, gen_time + delta)


def der_sorted(token: bytes) -> bytes:
    """``token`` with its SignedData certificate SET in DER order (ascending encodings).

    Real TSAs (GlobalSign's tokens in notation-go's test data, OpenSSL's ``ts -reply``)
    emit the certificate set in chain order, which is BER but not DER; ``rfc3161-client``
    parses strictly and refuses it (``InvalidSetOrdering``). Reordering is safe: the TSA's
    signature covers the signed attributes (content type, the TSTInfo digest and the
    ESSCertIDv2 naming the signing certificate), never the certificate set, which is an
    unsigned bag of candidates for path building. Every other byte is left as it was, so a
    token whose signed parts were altered still fails verification. Lengths are unchanged
    because the set's content is only permuted.
    """
    try:
        _, start, end = _tlv(token, 0, _SEQUENCE)  # ContentInfo
        _, start, end = _tlv(token, start, 0x06)  # contentType OID
        _, start, end = _tlv(token, end, 0xA0)  # [0] EXPLICIT content
        _, start, end = _tlv(token, start, _SEQUENCE)  # SignedData
        pos = start
        while pos < end:
            tag, inner, after = _tlv(token, pos, None)
            if tag == _CERTIFICATES:
                items = []
                at = inner
                while at < after:
                    _, _, item_end = _tlv(token, at, None)
                    items.append(token[at:item_end])
                    at = item_end
                # X.690 §11.6: ascending order of the encodings; for certificates (each a
                # SEQUENCE with a definite length) byte order is that order.
                return token[:inner] + b"".join(sorted(items)) + token[after:]
            pos = after
    except IndexError as exc:
        raise SignatureRejected("timestamp token is truncated") from exc
    return token


def _tlv(data: bytes, pos: int, expected: int | None) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``."""
    tag = data[pos]
    if expected is not None and tag != expected:
        raise SignatureRejected(f"timestamp token has tag {tag:#04x} where {expected:#04x} belongs")
    first = data[pos + 1]
    start = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise SignatureRejected("timestamp token uses an indefinite or oversized length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise SignatureRejected("timestamp token is truncated")
    return tag, start, start + length


def _der_sequence(content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return b"\x30" + bytes([length]) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(encoded)]) + encoded + content


def response_der_sorted(response: bytes) -> bytes:
    """A TimeStampResp (``status`` + token, as Sigstore bundles carry it) with its token's
    certificate set in DER order; see :func:`der_sorted` for why that is safe."""
    try:
        _, start, end = _tlv(response, 0, _SEQUENCE)  # TimeStampResp
        _, _, status_end = _tlv(response, start, _SEQUENCE)  # PKIStatusInfo
    except IndexError as exc:
        raise SignatureRejected("timestamp response is truncated") from exc
    if status_end >= end:
        return response  # no token: rfc3161-client reports the status
    token = response[status_end:end]
    return response[:status_end] + der_sorted(token) + response[end:]

"""Real Notary Project envelopes (notation-go testdata, tests/assets/notation) verify; tampered
copies of them do not."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cbor2
import pytest
from cryptography import x509

from gatekeeper.policy.notation import NotationLevel, NotationPolicy, parse_identity
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.notation.envelope import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, parse_envelope
from gatekeeper.trust.notation.store import load_certificates, notation_trust
from gatekeeper.trust.notation.timestamp import der_sorted, verify_timestamp
from gatekeeper.trust.notation.verify import Target, verify_envelope

ASSETS = Path(__file__).parents[2] / "assets/notation"
MANIFEST = (ASSETS / "manifest-19dbd2e4.json").read_bytes()
TARGET = Target(
    "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
    len(MANIFEST),
    "application/vnd.oci.image.manifest.v1+json",
)
TIMESTAMPED = Target(
    "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda",
    528,
    "application/vnd.docker.distribution.manifest.v2+json",
)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
NOTARY = NotationPolicy(trusted_identities=(parse_identity("x509.subject: C=US, ST=WA, O=Notary"),))
VECTORS = [
    ("jws_signature.sig", JWS_MEDIA_TYPE, TARGET),
    ("cose_signature.sig", COSE_MEDIA_TYPE, TARGET),
    ("jwsWithTimestamp.sig", JWS_MEDIA_TYPE, TIMESTAMPED),
    ("coseWithTimestamp.sig", COSE_MEDIA_TYPE, TIMESTAMPED),
]


def _verify(
    data: bytes,
    media_type: str,
    target: Target,
    policy: NotationPolicy = NOTARY,
    root_from: bytes | None = None,
) -> str:
    envelope = parse_envelope(media_type, data, 4)
    source = parse_envelope(media_type, root_from or data, 4)
    root = x509.load_der_x509_certificate(source.certificates[-1])
    trust = notation_trust(
        (root,), (), load_certificates((ASSETS / "globalsignRoot.cer").read_bytes(), "tsa")
    )
    return verify_envelope(envelope, target, policy, trust, NOW).subject


@pytest.mark.parametrize(("name", "media_type", "target"), VECTORS)
def test_real_vector_verifies(name: str, media_type: str, target: Target) -> None:
    data = (ASSETS / name).read_bytes()
    assert _verify(data, media_type, target) == "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"


def test_the_vector_target_is_the_manifest_shipped_beside_it() -> None:
    import hashlib

    assert "sha256:" + hashlib.sha256(MANIFEST).hexdigest() == TARGET.digest


def _jws(name: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads((ASSETS / name).read_bytes())
    return doc


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tampered_jws_payload_fails() -> None:
    doc = _jws("jws_signature.sig")
    payload = json.loads(base64.urlsafe_b64decode(str(doc["payload"]) + "=="))
    payload["targetArtifact"]["size"] = 482
    doc["payload"] = _b64(json.dumps(payload).encode())
    with pytest.raises(SignatureRejected, match="signature does not verify"):
        _verify(json.dumps(doc).encode(), JWS_MEDIA_TYPE, TARGET)


def test_tampered_jws_protected_header_fails() -> None:
    doc = _jws("jws_signature.sig")
    protected = json.loads(base64.urlsafe_b64decode(str(doc["protected"]) + "=="))
    protected["io.cncf.notary.signingTime"] = "2030-01-01T00:00:00Z"
    doc["protected"] = _b64(json.dumps(protected).encode())
    with pytest.raises(SignatureRejected, match="signature does not verify"):
        _verify(json.dumps(doc).encode(), JWS_MEDIA_TYPE, TARGET)


def test_tampered_cose_signature_fails() -> None:
    tagged = cbor2.loads((ASSETS / "cose_signature.sig").read_bytes())
    protected, unprotected, payload, signature = tagged.value
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    data = cbor2.dumps(cbor2.CBORTag(18, [protected, dict(unprotected), payload, flipped]))
    with pytest.raises(SignatureRejected, match="signature does not verify"):
        _verify(data, COSE_MEDIA_TYPE, TARGET)


def test_tampered_cose_payload_fails() -> None:
    tagged = cbor2.loads((ASSETS / "cose_signature.sig").read_bytes())
    protected, unprotected, payload, signature = tagged.value
    changed = payload.replace(b"19dbd2e4", b"19dbd2e5")
    data = cbor2.dumps(cbor2.CBORTag(18, [protected, dict(unprotected), changed, signature]))
    with pytest.raises(SignatureRejected, match="signature does not verify"):
        _verify(data, COSE_MEDIA_TYPE, TARGET)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (Target("sha256:" + "0" * 64, TARGET.size, TARGET.media_type), "signature is for"),
        (Target(TARGET.digest, 480, TARGET.media_type), "size"),
        (
            Target(TARGET.digest, TARGET.size, "application/vnd.oci.image.index.v1+json"),
            "media type",
        ),
    ],
)
def test_real_vector_for_another_target_fails(target: Target, reason: str) -> None:
    data = (ASSETS / "jws_signature.sig").read_bytes()
    with pytest.raises(SignatureRejected, match=reason):
        _verify(data, JWS_MEDIA_TYPE, target)


def test_real_vector_with_another_trust_store_fails() -> None:
    data = (ASSETS / "jws_signature.sig").read_bytes()
    other = (ASSETS / "jwsWithTimestamp.sig").read_bytes()  # another self-signed "alpine"
    with pytest.raises(SignatureRejected, match="does not lead to a certificate in the ca"):
        _verify(data, JWS_MEDIA_TYPE, TARGET, root_from=other)


def test_real_vector_with_another_identity_fails() -> None:
    data = (ASSETS / "jws_signature.sig").read_bytes()
    policy = NotationPolicy(
        trusted_identities=(parse_identity("x509.subject: C=US, ST=WA, O=Acme"),)
    )
    with pytest.raises(SignatureRejected, match="matches no trusted identity"):
        _verify(data, JWS_MEDIA_TYPE, TARGET, policy)
    audit = NotationPolicy(trusted_identities=policy.trusted_identities, level=NotationLevel.AUDIT)
    envelope = parse_envelope(JWS_MEDIA_TYPE, data, 4)
    root = x509.load_der_x509_certificate(envelope.certificates[-1])
    verdict = verify_envelope(envelope, TARGET, audit, notation_trust((root,)), NOW)
    assert any("matches no trusted identity" in w for w in verdict.warnings)


# --- RFC 3161 timestamps from a real TSA (GlobalSign, in notation-go's test data)

TSA_ROOT = ASSETS / "globalsignRoot.cer"
WITH_TSA = NotationPolicy(trusted_identities=NOTARY.trusted_identities, tsa_trust_store=(TSA_ROOT,))
STAMPED = [v for v in VECTORS if "Timestamp" in v[0]]


@pytest.mark.parametrize(("name", "media_type", "target"), STAMPED)
def test_real_timestamp_verifies_with_the_tsa_store(
    name: str, media_type: str, target: Target
) -> None:
    data = (ASSETS / name).read_bytes()
    assert _verify(data, media_type, target, WITH_TSA) == "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"


@pytest.mark.parametrize(("name", "media_type", "target"), STAMPED)
def test_real_timestamp_range_is_gen_time_plus_minus_its_accuracy(
    name: str, media_type: str, target: Target
) -> None:
    envelope = parse_envelope(media_type, (ASSETS / name).read_bytes(), 4)
    assert envelope.timestamp is not None
    roots = load_certificates(TSA_ROOT.read_bytes(), "tsa")
    stamped = verify_timestamp(envelope.timestamp, envelope.signature, roots)
    # GlobalSign states accuracy 1 s; the envelopes were signed 2024-06-18 06:2x.
    assert stamped.upper - stamped.lower == timedelta(seconds=2)
    assert stamped.lower.date() == date(2024, 6, 18)


def test_real_token_certificate_set_is_not_der_sorted_and_is_only_permuted() -> None:
    envelope = parse_envelope(JWS_MEDIA_TYPE, (ASSETS / "jwsWithTimestamp.sig").read_bytes(), 4)
    token = envelope.timestamp
    assert token is not None
    fixed = der_sorted(token)
    assert fixed != token and sorted(fixed) == sorted(token) and len(fixed) == len(token)
    assert der_sorted(fixed) == fixed


def _jws_with_timestamp(token: bytes) -> bytes:
    doc = _jws("jwsWithTimestamp.sig")
    header = dict(doc["header"])  # type: ignore[call-overload]
    header["io.cncf.notary.timestampSignature"] = base64.b64encode(token).decode()
    doc["header"] = header
    return json.dumps(doc).encode()


def _real_token() -> bytes:
    envelope = parse_envelope(JWS_MEDIA_TYPE, (ASSETS / "jwsWithTimestamp.sig").read_bytes(), 4)
    assert envelope.timestamp is not None
    return envelope.timestamp


def test_tampered_real_timestamp_gen_time_fails() -> None:
    token = _real_token()
    at = token.index(b"20240618")  # TSTInfo.genTime, inside the signed eContent
    tampered = token[:at] + b"20240619" + token[at + 8 :]
    with pytest.raises(SignatureRejected, match="timestamp countersignature does not verify"):
        _verify(_jws_with_timestamp(tampered), JWS_MEDIA_TYPE, TIMESTAMPED, WITH_TSA)


def test_real_timestamp_over_another_signature_fails() -> None:
    cose = parse_envelope(
        COSE_MEDIA_TYPE, (ASSETS / "coseWithTimestamp.sig").read_bytes(), 4
    ).timestamp
    assert cose is not None
    with pytest.raises(SignatureRejected, match="Mismatch between messages"):
        _verify(_jws_with_timestamp(cose), JWS_MEDIA_TYPE, TIMESTAMPED, WITH_TSA)


def test_real_timestamp_from_an_untrusted_tsa_fails() -> None:
    data = (ASSETS / "jwsWithTimestamp.sig").read_bytes()
    envelope = parse_envelope(JWS_MEDIA_TYPE, data, 4)
    root = x509.load_der_x509_certificate(envelope.certificates[-1])
    # the signing root stands in as the only "TSA" root: GlobalSign's chain does not reach it
    trust = notation_trust((root,), (), (root,))
    with pytest.raises(SignatureRejected, match="timestamp countersignature does not verify"):
        verify_envelope(envelope, TIMESTAMPED, WITH_TSA, trust, NOW)


@pytest.mark.parametrize(
    "token",
    [b"", b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x31\x00", b"\x30\x03\x06\x01\x00"],
)
def test_garbage_timestamp_is_a_refusal(token: bytes) -> None:
    with pytest.raises(SignatureRejected, match="timestamp"):
        _verify(_jws_with_timestamp(token), JWS_MEDIA_TYPE, TIMESTAMPED, WITH_TSA)

"""Notation verification with envelopes from the test signer (tests/helpers/notation_sign.py)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gatekeeper.policy.notation import NotationLevel, NotationPolicy, parse_identity
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.notation.envelope import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, parse_envelope
from gatekeeper.trust.notation.store import notation_trust
from gatekeeper.trust.notation.verify import Target, verify_envelope
from tests.helpers import notation_sign as ns
from tests.helpers import tsa

NOW = datetime.datetime.now(datetime.UTC)
CA = ns.make_ca()
OTHER_CA = ns.make_ca("Evil Root")
SIGNER = ns.make_signer(CA)
MANIFEST = b'{"schemaVersion":2}'
TARGET = Target(ns.sha256(MANIFEST), len(MANIFEST), ns.OCI_MANIFEST)
RELEASE = parse_identity("x509.subject: C=US, ST=WA, O=Acme, CN=release")


def policy(level: NotationLevel = NotationLevel.STRICT, **extra: Any) -> NotationPolicy:
    return NotationPolicy(trusted_identities=(RELEASE,), level=level, **extra)


def verify(
    envelope: bytes,
    media_type: str = JWS_MEDIA_TYPE,
    pol: NotationPolicy | None = None,
    sa: bool = False,
) -> tuple[str, ...]:
    roots = CA.chain
    trust = notation_trust(roots, roots if sa else ())
    parsed = parse_envelope(media_type, envelope, 4)
    return verify_envelope(parsed, TARGET, pol or policy(), trust, NOW).warnings


@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(65537, 3072),
    ],
    ids=["ES256", "ES384", "PS384"],
)
def test_signed_envelope_verifies(media_type: str, key: ns.Key) -> None:
    signer = ns.make_signer(CA, key=key)
    envelope = ns.sign(signer, ns.descriptor(MANIFEST), envelope=media_type)
    assert verify(envelope, media_type) == ()


def _fails(envelope: bytes, reason: str, media_type: str = JWS_MEDIA_TYPE, **kw: Any) -> None:
    with pytest.raises(SignatureRejected, match=reason):
        verify(envelope, media_type, **kw)


LATER = NOW + datetime.timedelta(days=400)
PAST = NOW - datetime.timedelta(days=1)


@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda t: ns.sign(ns.make_signer(OTHER_CA), ns.descriptor(MANIFEST), envelope=t),
            "does not lead to a certificate in the ca trust store",
        ),
        (
            lambda t: ns.sign(ns.make_signer(CA, "nightly"), ns.descriptor(MANIFEST), envelope=t),
            "matches no trusted identity",
        ),
        (
            lambda t: ns.sign(SIGNER, ns.descriptor(MANIFEST), envelope=t, expiry=PAST),
            "signature expired",
        ),
        (lambda t: ns.sign(SIGNER, ns.descriptor(b"other"), envelope=t), "signature is for"),
        (
            lambda t: ns.sign(SIGNER, ns.descriptor(MANIFEST, ns.OCI_INDEX), envelope=t),
            "media type",
        ),
        (
            lambda t: ns.sign(SIGNER, ns.descriptor(MANIFEST), envelope=t, alg="ES384"),
            "does not match the signing key",
        ),
        (
            lambda t: ns.sign(
                SIGNER,
                ns.descriptor(MANIFEST),
                envelope=t,
                extra={"x.unknown": "v"},
                extra_crit=("x.unknown",),
            ),
            "unknown critical header",
        ),
        (
            lambda t: ns.sign(
                SIGNER,
                ns.descriptor(MANIFEST),
                envelope=t,
                extra={"io.cncf.notary.verificationPlugin": "com.example"},
                extra_crit=("io.cncf.notary.verificationPlugin",),
            ),
            "verification plugin",
        ),
        (
            lambda t: ns.sign(
                SIGNER,
                ns.descriptor(MANIFEST),
                envelope=t,
                extra={"io.cncf.notary.signingScheme": "notary.other"},
            ),
            "unsupported signing scheme",
        ),
        (
            lambda t: ns.sign(
                SIGNER, ns.descriptor(MANIFEST), envelope=t, scheme="notary.x509.signingAuthority"
            ),
            "no signingAuthority trust store",
        ),
        (
            lambda t: ns.sign(
                ns.make_signer(CA, eku=(ns.ExtendedKeyUsageOID.SERVER_AUTH,)),
                ns.descriptor(MANIFEST),
                envelope=t,
            ),
            "includes serverAuth",
        ),
    ],
    ids=[
        "untrusted-ca",
        "wrong-identity",
        "expired",
        "other-digest",
        "other-media-type",
        "alg-mismatch",
        "unknown-crit",
        "plugin",
        "scheme",
        "sa-without-store",
        "eku",
    ],
)
def test_refused(make: Any, reason: str, media_type: str) -> None:
    _fails(make(media_type), reason, media_type)


def test_signing_authority_verifies_against_its_store() -> None:
    envelope = ns.sign(SIGNER, ns.descriptor(MANIFEST), scheme="notary.x509.signingAuthority")
    assert verify(envelope, sa=True) == ()


def test_expired_certificate_is_refused_strict_and_logged_permissive() -> None:
    old = ns.make_signer(CA, not_before=NOW - datetime.timedelta(days=10), not_after=PAST)
    envelope = ns.sign(old, ns.descriptor(MANIFEST), signing_time=PAST - datetime.timedelta(1))
    _fails(envelope, "expired at")
    warnings = verify(envelope, pol=policy(NotationLevel.PERMISSIVE))
    assert any("expired at" in w for w in warnings)


def test_expiry_is_logged_at_permissive() -> None:
    envelope = ns.sign(SIGNER, ns.descriptor(MANIFEST), expiry=PAST)
    assert any(
        "signature expired" in w for w in verify(envelope, pol=policy(NotationLevel.PERMISSIVE))
    )


def test_timestamp_required_when_tsa_store_configured() -> None:
    envelope = ns.sign(SIGNER, ns.descriptor(MANIFEST))
    pol = policy(tsa_trust_store=(ns.Path("tsa.pem"),))
    _fails(envelope, "requires an RFC 3161 timestamp", pol=pol)


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b'{"payload":"","protected":"","header":{},"signature":""}', b"\xd2\x80"],
)
@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
def test_garbage_envelopes_are_refusals(data: bytes, media_type: str) -> None:
    with pytest.raises(SignatureRejected):
        verify(data, media_type)


# --- RFC 3161 timestamps from a real TSA implementation (OpenSSL ``ts -reply``)

TSA = tsa.make_tsa()
OTHER_TSA = tsa.make_tsa("Other TSA")
LATER_NOW = NOW + datetime.timedelta(days=2)  # the signing certificate expired meanwhile
SHORT_LIVED = ns.make_signer(CA, not_after=NOW + datetime.timedelta(hours=1))


def _stamped(authority: tsa.Tsa = TSA, media_type: str = JWS_MEDIA_TYPE) -> bytes:
    return ns.sign(
        SHORT_LIVED,
        ns.descriptor(MANIFEST),
        envelope=media_type,
        timestamper=lambda sig: tsa.stamp(authority, sig),
    )


def _verify_at(
    envelope: bytes, at: datetime.datetime, media_type: str = JWS_MEDIA_TYPE, **extra: Any
) -> tuple[str, ...]:
    trust = notation_trust(CA.chain, (), (TSA.root,))
    parsed = parse_envelope(media_type, envelope, 4)
    return verify_envelope(parsed, TARGET, policy(**extra), trust, at).warnings


WITH_TSA: dict[str, Any] = {"tsa_trust_store": (ns.Path("tsa.pem"),)}


@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
def test_expired_certificate_passes_with_a_timestamp_inside_its_validity(media_type: str) -> None:
    envelope = _stamped(media_type=media_type)
    assert _verify_at(envelope, LATER_NOW, media_type, **WITH_TSA) == ()
    with pytest.raises(SignatureRejected, match=r"now \(no timestamp verified\).*expired"):
        _verify_at(envelope, LATER_NOW, media_type)


def test_timestamp_from_an_untrusted_tsa_is_refused() -> None:
    with pytest.raises(SignatureRejected, match="timestamp countersignature does not verify"):
        _verify_at(_stamped(OTHER_TSA), LATER_NOW, **WITH_TSA)


def test_timestamp_after_the_certificate_expired_is_refused() -> None:
    signer = ns.make_signer(
        CA,
        not_before=NOW - datetime.timedelta(days=10),
        not_after=NOW - datetime.timedelta(days=1),
    )
    envelope = ns.sign(
        signer,
        ns.descriptor(MANIFEST),
        signing_time=NOW - datetime.timedelta(days=2),
        timestamper=lambda sig: tsa.stamp(TSA, sig),
    )
    with pytest.raises(SignatureRejected, match=r"at the timestamp .* expired at"):
        _verify_at(envelope, NOW, **WITH_TSA)
    # permissive only logs the authentic-timestamp failure
    warnings = _verify_at(envelope, NOW, level=NotationLevel.PERMISSIVE, **WITH_TSA)
    assert any("at the timestamp" in w for w in warnings)


def test_after_cert_expiry_verifies_the_timestamp_only_once_the_chain_expired() -> None:
    unstamped = ns.sign(SHORT_LIVED, ns.descriptor(MANIFEST))
    after = {**WITH_TSA, "verify_timestamp": "afterCertExpiry"}
    assert _verify_at(unstamped, NOW, **after) == ()
    with pytest.raises(SignatureRejected, match="requires an RFC 3161 timestamp"):
        _verify_at(unstamped, NOW, **WITH_TSA)
    with pytest.raises(SignatureRejected, match="requires an RFC 3161 timestamp"):
        _verify_at(unstamped, LATER_NOW, **after)
    assert _verify_at(_stamped(), LATER_NOW, **after) == ()


def test_openssl_tokens_need_der_sorting_to_parse() -> None:
    from rfc3161_client import decode_timestamp_response

    from gatekeeper.trust.notation.timestamp import _GRANTED, _der_sequence, der_sorted

    token = tsa.stamp(TSA, b"signature bytes")
    with pytest.raises(ValueError, match="InvalidSetOrdering"):
        decode_timestamp_response(_der_sequence(_GRANTED + token))
    decode_timestamp_response(_der_sequence(_GRANTED + der_sorted(token)))


@pytest.mark.parametrize(
    ("accuracy", "policy_oid", "half_width"),
    [
        ("secs:3", "1.2.3.4.1", datetime.timedelta(seconds=3)),
        ("millisecs:500", "0.4.0.2023.1.1", datetime.timedelta(milliseconds=500)),
        (None, "0.4.0.2023.1.1", datetime.timedelta(seconds=1)),  # baseline policy: 1 s
        (None, "1.2.3.4.1", datetime.timedelta()),  # no accuracy, other policy: 0
    ],
)
def test_timestamp_accuracy_follows_the_specification(
    accuracy: str | None, policy_oid: str, half_width: datetime.timedelta
) -> None:
    from gatekeeper.trust.notation.timestamp import verify_timestamp

    token = tsa.stamp(TSA, b"sig", accuracy=accuracy, policy=policy_oid)
    stamped = verify_timestamp(token, b"sig", (TSA.root,))
    assert stamped.upper - stamped.lower == 2 * half_width

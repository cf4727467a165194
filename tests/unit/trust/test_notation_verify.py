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

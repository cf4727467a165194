"""Sigstore bundles: cosign v3 DSSE statements (keyless and key-based), real production
bundles through the sigstore-python plumbing, and bundles that must not count."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.errors import VerificationError
from sigstore.models import Bundle
from sigstore.verify import Verifier

from gatekeeper.policy.model import KeylessIdentity, SignaturePolicy
from gatekeeper.trust.bundles import verify_bundle
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.identity import IdentityPolicy
from gatekeeper.trust.keys import load_public_key
from gatekeeper.trust.material import TrustMaterial, trust_material
from gatekeeper.trust.trusted_root import TrustedRoot, production_trusted_root
from tests.helpers import cosign_sign
from tests.helpers.fake_sigstore import SIGNED_AT, FakeSigstore
from tests.unit.trust.conftest import GITHUB_IDENTITY, GITHUB_ISSUER, SIGSTORE

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
IDENTITY = KeylessIdentity("https://issuer.test", subject="dev@example.test")
WHEN = int(SIGNED_AT.timestamp())


def keyless_policy(*identities: KeylessIdentity) -> SignaturePolicy:
    return SignaturePolicy(keyless=identities or (IDENTITY,))


# --- keyless (sigstore-python verifies; gatekeeper checks identity and statement) -----------


def test_keyless_cosign_v3_bundle_verifies(fake: FakeSigstore, fake_root: TrustedRoot) -> None:
    bundle = fake.keyless_bundle(fake.issue(), cosign_sign.sign_statement(DIGEST))
    signer = verify_bundle(bundle, DIGEST, keyless_policy(), trust_material((), fake_root))
    assert signer == "https://issuer.test dev@example.test"


def test_keyless_bundle_for_another_image(fake: FakeSigstore, fake_root: TrustedRoot) -> None:
    bundle = fake.keyless_bundle(fake.issue(), cosign_sign.sign_statement(OTHER))
    with pytest.raises(SignatureRejected) as caught:
        verify_bundle(bundle, DIGEST, keyless_policy(), trust_material((), fake_root))
    assert caught.value.message == f"signature is for {OTHER} not {DIGEST}"


def test_keyless_bundle_wrong_identity_keeps_our_reason(
    fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    bundle = fake.keyless_bundle(fake.issue(), cosign_sign.sign_statement(DIGEST))
    other = KeylessIdentity("https://issuer.test", subject_regex=re.compile(r"ops@.*"))
    with pytest.raises(SignatureRejected) as caught:
        verify_bundle(bundle, DIGEST, keyless_policy(other), trust_material((), fake_root))
    assert caught.value.message.startswith(
        "certificate identity dev@example.test (issuer https://issuer.test) does not match"
    )


def test_keyless_bundle_needs_a_keyless_policy(fake: FakeSigstore, fake_root: TrustedRoot) -> None:
    bundle = fake.keyless_bundle(fake.issue(), cosign_sign.sign_statement(DIGEST))
    with pytest.raises(SignatureRejected, match="names no keyless identities"):
        verify_bundle(bundle, DIGEST, SignaturePolicy(), trust_material((), fake_root))


def test_keyless_bundle_from_an_untrusted_sigstore(fake: FakeSigstore) -> None:
    bundle = fake.keyless_bundle(fake.issue(), cosign_sign.sign_statement(DIGEST))
    with pytest.raises(SignatureRejected, match="bundle does not verify"):
        verify_bundle(
            bundle, DIGEST, keyless_policy(), trust_material((), production_trusted_root())
        )


def _edit(bundle: bytes, change: Any) -> bytes:
    doc = json.loads(bundle)
    change(doc)
    return json.dumps(doc).encode()


def _swap_payload(doc: dict[str, Any]) -> None:
    statement = cosign_sign.sign_statement(OTHER)
    doc["dsseEnvelope"]["payload"] = base64.b64encode(statement).decode()


def _garble_certificate(doc: dict[str, Any]) -> None:
    doc["verificationMaterial"]["certificate"]["rawBytes"] = "AAAA"


def _drop_tlog(doc: dict[str, Any]) -> None:
    doc["verificationMaterial"]["tlogEntries"] = []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_swap_payload, "bundle does not verify"),
        (_garble_certificate, "bundle (is malformed|does not verify)"),
        (_drop_tlog, "neither a log entry nor a signed timestamp"),
    ],
)
def test_tampered_keyless_bundles(
    fake: FakeSigstore, fake_root: TrustedRoot, change: Any, reason: str
) -> None:
    bundle = _edit(fake.keyless_bundle(fake.issue(), cosign_sign.sign_statement(DIGEST)), change)
    with pytest.raises(SignatureRejected, match=reason):
        verify_bundle(bundle, DIGEST, keyless_policy(), trust_material((), fake_root))


def test_keyless_bundle_with_expired_certificate(
    fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    leaf = fake.issue()
    late = WHEN + 3600  # logged an hour after the ten-minute certificate expired
    bundle = fake.keyless_bundle(leaf, cosign_sign.sign_statement(DIGEST), integrated_time=late)
    with pytest.raises(SignatureRejected, match="bundle does not verify"):
        verify_bundle(bundle, DIGEST, keyless_policy(), trust_material((), fake_root))


# --- real production bundles: the sigstore plumbing and identity policy ---------------------


def _github_bundle(name: str = "bundle_v3_github.whl") -> tuple[bytes, Bundle]:
    data = (SIGSTORE / name).read_bytes()
    return data, Bundle.from_json((SIGSTORE / f"{name}.sigstore").read_bytes())


@pytest.mark.parametrize(
    "identity",
    [
        KeylessIdentity(GITHUB_ISSUER, subject=GITHUB_IDENTITY),
        KeylessIdentity(
            GITHUB_ISSUER,
            subject_regex=re.compile(r"https://github\.com/trailofbits/rfc8785\.py/.*"),
        ),
    ],
)
def test_real_bundle_verifies_offline_with_identity_policy(identity: KeylessIdentity) -> None:
    data, bundle = _github_bundle()
    verifier = Verifier(trusted_root=production_trusted_root().sigstore)
    verifier.verify_artifact(data, bundle, IdentityPolicy([identity]))


def test_real_bundle_refuses_another_identity() -> None:
    data, bundle = _github_bundle()
    verifier = Verifier(trusted_root=production_trusted_root().sigstore)
    wrong = KeylessIdentity(GITHUB_ISSUER, subject=GITHUB_IDENTITY.replace("v0.1.2", "v0.1.3"))
    with pytest.raises(VerificationError, match="does not match"):
        verifier.verify_artifact(data, bundle, IdentityPolicy([wrong]))


def test_real_bad_bundle_fails() -> None:
    data, bundle = _github_bundle("bad.whl")
    verifier = Verifier(trusted_root=production_trusted_root().sigstore)
    with pytest.raises(VerificationError):
        verifier.verify_artifact(
            data, bundle, IdentityPolicy([KeylessIdentity(GITHUB_ISSUER, GITHUB_IDENTITY)])
        )


def test_message_signature_bundles_are_not_image_signatures() -> None:
    bundle = (SIGSTORE / "bundle_v3_github.whl.sigstore").read_bytes()
    pol = keyless_policy(KeylessIdentity(GITHUB_ISSUER, GITHUB_IDENTITY))
    with pytest.raises(SignatureRejected, match=r"signs a blob \(messageSignature\)"):
        verify_bundle(bundle, DIGEST, pol, trust_material((), production_trusted_root()))


def test_identity_policy_refuses_to_accept_nothing() -> None:
    with pytest.raises(ValueError, match="at least one identity"):
        IdentityPolicy([])


# --- key-based bundles (verified with cryptography) -----------------------------------------


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def keyed_material(key: ec.EllipticCurvePrivateKey, root: TrustedRoot) -> TrustMaterial:
    return trust_material((load_public_key(cosign_sign.public_key_pem(key), "test.pub"),), root)


def keyed_policy(tlog: str = "optional") -> SignaturePolicy:
    return SignaturePolicy(transparency_log=tlog)


def _logged_bundle(
    key: ec.EllipticCurvePrivateKey, fake: FakeSigstore, statement: bytes, **entry: Any
) -> bytes:
    signature = cosign_sign.sign(key, cosign_sign.dsse_pae(cosign_sign.IN_TOTO, statement))
    body = entry.pop("body", None) or cosign_sign.dsse_entry_body(
        statement, signature, cosign_sign.public_key_pem(key)
    )
    tlog = cosign_sign.bundle_tlog_entry(fake.rekor_key, body, WHEN)
    tlog.update(entry)
    return cosign_sign.dsse_bundle(key, statement, tlog_entries=[tlog], signature=signature)


def test_key_based_bundle_verifies(
    signing_key: ec.EllipticCurvePrivateKey, fake_root: TrustedRoot
) -> None:
    bundle = cosign_sign.dsse_bundle(signing_key, cosign_sign.sign_statement(DIGEST))
    mat = keyed_material(signing_key, fake_root)
    assert verify_bundle(bundle, DIGEST, keyed_policy(), mat) == f"key {mat.keys[0].short_id}"


def test_key_based_bundle_with_a_set_meets_a_required_log(
    signing_key: ec.EllipticCurvePrivateKey, fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    bundle = _logged_bundle(signing_key, fake, cosign_sign.sign_statement(DIGEST))
    assert verify_bundle(
        bundle, DIGEST, keyed_policy("required"), keyed_material(signing_key, fake_root)
    )


def test_key_based_bundle_without_a_set_fails_a_required_log(
    signing_key: ec.EllipticCurvePrivateKey, fake_root: TrustedRoot
) -> None:
    bundle = cosign_sign.dsse_bundle(signing_key, cosign_sign.sign_statement(DIGEST))
    with pytest.raises(SignatureRejected, match=r"no transparency log entry .*requires one"):
        verify_bundle(
            bundle, DIGEST, keyed_policy("required"), keyed_material(signing_key, fake_root)
        )


def test_key_based_bundle_signed_by_another_key(
    signing_key: ec.EllipticCurvePrivateKey, fake_root: TrustedRoot
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    bundle = cosign_sign.dsse_bundle(stranger, cosign_sign.sign_statement(DIGEST))
    with pytest.raises(SignatureRejected, match="not by a trusted key"):
        verify_bundle(bundle, DIGEST, keyed_policy(), keyed_material(signing_key, fake_root))


def test_key_based_bundle_with_a_forged_set(
    signing_key: ec.EllipticCurvePrivateKey, fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    bundle = _logged_bundle(
        signing_key, fake, cosign_sign.sign_statement(DIGEST), integratedTime=str(WHEN + 1)
    )
    with pytest.raises(SignatureRejected, match="Rekor SET does not verify"):
        verify_bundle(bundle, DIGEST, keyed_policy(), keyed_material(signing_key, fake_root))


def test_key_based_bundle_with_a_set_for_another_signature(
    signing_key: ec.EllipticCurvePrivateKey, fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    statement = cosign_sign.sign_statement(DIGEST)
    foreign = cosign_sign.dsse_entry_body(
        statement, b"\x30\x00", cosign_sign.public_key_pem(signing_key)
    )
    bundle = _logged_bundle(signing_key, fake, statement, body=foreign)
    with pytest.raises(SignatureRejected, match="names a different signature"):
        verify_bundle(bundle, DIGEST, keyed_policy(), keyed_material(signing_key, fake_root))


def test_key_based_bundle_with_a_hashedrekord_entry(
    signing_key: ec.EllipticCurvePrivateKey, fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    statement = cosign_sign.sign_statement(DIGEST)
    body = cosign_sign.hashedrekord_body(statement, b"sig", cosign_sign.public_key_pem(signing_key))
    bundle = _logged_bundle(signing_key, fake, statement, body=body)
    with pytest.raises(SignatureRejected, match="does not describe a DSSE envelope"):
        verify_bundle(bundle, DIGEST, keyed_policy(), keyed_material(signing_key, fake_root))


@pytest.mark.parametrize(
    ("statement", "payload_type", "reason"),
    [
        (cosign_sign.sign_statement(OTHER), cosign_sign.IN_TOTO, f"signature is for {OTHER}"),
        (
            cosign_sign.sign_statement(DIGEST, "https://slsa.dev/provenance/v1"),
            cosign_sign.IN_TOTO,
            "attestation, not a cosign image signature",
        ),
        (cosign_sign.sign_statement(DIGEST), "text/plain", "is not in-toto"),
        (b'{"_type":"x"}', cosign_sign.IN_TOTO, "not an in-toto statement"),
        (
            json.dumps(
                {
                    "_type": "https://in-toto.io/Statement/v1",
                    "predicateType": "https://sigstore.dev/cosign/sign/v1",
                    "subject": [{"name": "x"}, "junk", {"digest": {"sha512": "ab" * 32}}],
                }
            ).encode(),
            cosign_sign.IN_TOTO,
            "signature is for nothing not",
        ),
    ],
)
def test_statements_that_do_not_sign_this_image(
    signing_key: ec.EllipticCurvePrivateKey,
    fake_root: TrustedRoot,
    statement: bytes,
    payload_type: str,
    reason: str,
) -> None:
    bundle = cosign_sign.dsse_bundle(signing_key, statement, payload_type=payload_type)
    with pytest.raises(SignatureRejected, match=reason):
        verify_bundle(bundle, DIGEST, keyed_policy(), keyed_material(signing_key, fake_root))


@pytest.mark.parametrize(
    ("bundle", "reason"),
    [
        (b"", "bundle is empty"),
        (b"{", "not valid JSON"),
        (b"{}", "'mediaType' is missing"),
        (b'{"mediaType":"application/json"}', "media type 'application/json' is not supported"),
        (
            b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}',
            "'dsseEnvelope' is missing",
        ),
        (
            b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",'
            b'"dsseEnvelope":{},"verificationMaterial":{}}',
            "neither a public key hint nor a certificate",
        ),
    ],
)
def test_malformed_bundles(
    signing_key: ec.EllipticCurvePrivateKey, fake_root: TrustedRoot, bundle: bytes, reason: str
) -> None:
    with pytest.raises(SignatureRejected, match=reason):
        verify_bundle(bundle, DIGEST, keyed_policy(), keyed_material(signing_key, fake_root))

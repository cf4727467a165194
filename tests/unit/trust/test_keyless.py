"""Keyless (Fulcio + Rekor) legacy signatures: the real containers/image fixture and a
private fake Sigstore for the cases real fixtures cannot show."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from cryptography import x509

from gatekeeper.oci.manifest import Descriptor
from gatekeeper.policy.model import KeylessIdentity, SignaturePolicy
from gatekeeper.trust.cosign_legacy import verify_legacy_signature
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.keys import load_key_file
from gatekeeper.trust.material import trust_material
from gatekeeper.trust.trusted_root import (
    TrustedRoot,
    load_trusted_root,
    production_trusted_root,
)
from tests.helpers import cosign_sign
from tests.helpers.fake_sigstore import SIGNED_AT, FakeSigstore, Leaf, trusted_root_json
from tests.unit.trust.conftest import (
    COSIGN,
    FULCIO_ISSUER,
    FULCIO_SUBJECT,
    REKOR_DIGEST,
    FixtureSignature,
)

MITR = KeylessIdentity(issuer=FULCIO_ISSUER, subject=FULCIO_SUBJECT)


def keyless_policy(*identities: KeylessIdentity, tlog: str = "optional") -> SignaturePolicy:
    return SignaturePolicy(keyless=identities, transparency_log=tlog)


def verify(sig: FixtureSignature, pol: SignaturePolicy, root: TrustedRoot) -> str:
    return verify_legacy_signature(
        sig.layer, sig.payload, REKOR_DIGEST, pol, trust_material((), root)
    )


@pytest.mark.parametrize("root_name", ["fixture", "production"])
def test_real_keyless_signature_verifies(
    keyless: FixtureSignature, fixture_root: TrustedRoot, root_name: str
) -> None:
    root = fixture_root if root_name == "fixture" else production_trusted_root()
    signer = verify(keyless, keyless_policy(MITR, tlog="required"), root)
    assert signer == f"{FULCIO_ISSUER} {FULCIO_SUBJECT}"


def test_subject_regex_must_match_the_whole_subject(
    keyless: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    full = KeylessIdentity(FULCIO_ISSUER, subject_regex=re.compile(r"[a-z]+@redhat\.com"))
    assert verify(keyless, keyless_policy(full), fixture_root)
    partial = KeylessIdentity(FULCIO_ISSUER, subject_regex=re.compile(r"mitr"))
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(keyless, keyless_policy(partial), fixture_root)


@pytest.mark.parametrize(
    "identity",
    [
        KeylessIdentity(FULCIO_ISSUER, subject="someone@redhat.com"),
        KeylessIdentity("https://accounts.google.com", subject=FULCIO_SUBJECT),
    ],
)
def test_wrong_identity_names_what_the_certificate_says(
    keyless: FixtureSignature, fixture_root: TrustedRoot, identity: KeylessIdentity
) -> None:
    with pytest.raises(SignatureRejected) as caught:
        verify(keyless, keyless_policy(identity), fixture_root)
    assert caught.value.message.startswith(
        f"certificate identity {FULCIO_SUBJECT} (issuer {FULCIO_ISSUER}) does not match"
    )


def test_keyless_without_a_set_fails_even_when_the_log_is_optional(
    keyless: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    stripped = keyless.with_annotations(bundle=None)
    with pytest.raises(SignatureRejected, match="has no Rekor SET"):
        verify(stripped, keyless_policy(MITR, tlog="optional"), fixture_root)


def test_keyless_with_a_tampered_set_fails(
    keyless: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    bundle = json.loads(keyless.annotations["dev.sigstore.cosign/bundle"])
    bundle["Payload"]["logIndex"] += 1
    tampered = keyless.with_annotations(bundle=json.dumps(bundle))
    with pytest.raises(SignatureRejected, match="Rekor SET does not verify"):
        verify(tampered, keyless_policy(MITR), fixture_root)


def test_certificate_not_valid_at_integrated_time(
    keyless: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    # fulcio-cert is a genuine certificate for the same identity, issued a month earlier.
    older = (COSIGN / "fulcio-cert").read_text()
    swapped = keyless.with_annotations(certificate=older)
    with pytest.raises(SignatureRejected, match=r"does not chain to a Fulcio CA .* 2023-01-20"):
        verify(swapped, keyless_policy(MITR), fixture_root)


def test_certificate_from_another_ca_fails(
    keyless: FixtureSignature, fake_root: TrustedRoot
) -> None:
    with pytest.raises(SignatureRejected, match=r"Rekor .* is not in the trusted root"):
        verify(keyless, keyless_policy(MITR), fake_root)


@pytest.mark.parametrize(
    ("certificate", "reason"),
    [
        ("not a certificate", "certificate annotation is not a valid PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a valid PEM"),
        ("", "certificate annotation is not a PEM string"),
    ],
)
def test_certificate_garbage(
    keyless: FixtureSignature, fixture_root: TrustedRoot, certificate: str, reason: str
) -> None:
    tampered = keyless.with_annotations(certificate=certificate)
    with pytest.raises(SignatureRejected, match=reason):
        verify(tampered, keyless_policy(MITR), fixture_root)


def test_chain_annotation_is_bounded(keyless: FixtureSignature, fixture_root: TrustedRoot) -> None:
    chain = keyless.annotations["dev.sigstore.cosign/chain"]
    tampered = keyless.with_annotations(chain="\n".join([chain] * 3))
    with pytest.raises(SignatureRejected, match="more than 4 certificates"):
        verify(tampered, keyless_policy(MITR), fixture_root)


def test_untrusted_chain_annotation_cannot_anchor_trust(fake: FakeSigstore) -> None:
    # The fake CA's certificate, its own chain (root included) in the annotation, and a
    # root that trusts the fake logs but only the real Fulcio CA: the chain annotation
    # helps build a path, it never anchors one.
    real_ca = x509.load_pem_x509_certificates((COSIGN / "fulcio-chain").read_bytes())
    logs_only = trusted_root_json(
        real_ca, [fake.rekor_key.public_key()], [fake.ct_key.public_key()]
    )
    root = load_trusted_root(logs_only, "real CA, fake logs")
    leaf = fake.issue(san=x509.RFC822Name(FULCIO_SUBJECT), issuer=FULCIO_ISSUER)
    with pytest.raises(SignatureRejected, match="does not chain to a Fulcio CA"):
        verify(_fake_signature(fake, leaf), keyless_policy(MITR), root)


def test_signature_that_does_not_verify_with_the_certificate(
    keyless: FixtureSignature, keyed_rekor: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    tampered = keyless.with_annotations(
        signature=keyed_rekor.annotations["dev.cosignproject.cosign/signature"]
    )
    with pytest.raises(SignatureRejected, match="does not verify with the certificate's key"):
        verify(tampered, keyless_policy(MITR), fixture_root)


def test_keyless_signature_under_a_keys_only_policy(
    keyless: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    mat = trust_material((load_key_file(COSIGN / "cosign.pub"),), fixture_root)
    with pytest.raises(SignatureRejected, match="policy names no keyless identities"):
        verify_legacy_signature(
            keyless.layer,
            keyless.payload,
            REKOR_DIGEST,
            SignaturePolicy(keys=(COSIGN / "cosign.pub",)),
            mat,
        )


# --- the fake Sigstore: cases that need certificates made to order ---------------------------

FAKE_IDENTITY = KeylessIdentity("https://issuer.test", subject="dev@example.test")


def _fake_signature(
    fake: FakeSigstore, leaf: Leaf, *, integrated_time: int | None = None
) -> FixtureSignature:
    payload = cosign_sign.simple_signing_payload(REKOR_DIGEST, "registry.test/app")
    annotations = fake.legacy_annotations(leaf, payload, integrated_time=integrated_time)
    layer = Descriptor(
        cosign_sign.SIMPLE_SIGNING,
        cosign_sign.sha256_digest(payload),
        len(payload),
        annotations=annotations,
    )
    return FixtureSignature(layer, payload)


def test_fake_sigstore_signature_verifies(fake: FakeSigstore, fake_root: TrustedRoot) -> None:
    sig = _fake_signature(fake, fake.issue())
    assert verify(sig, keyless_policy(FAKE_IDENTITY), fake_root) == (
        "https://issuer.test dev@example.test"
    )


@pytest.mark.parametrize(
    ("issue", "reason"),
    [
        ({"issuer": None, "legacy_issuer": "https://issuer.test"}, None),
        ({"issuer": None}, "no OIDC issuer extension"),
        ({"legacy_issuer": "https://other.test"}, "names two OIDC issuers"),
        ({"with_sct": False}, "no embedded SCT"),
        ({"code_signing": False}, "not a code-signing certificate"),
        ({"not_before": SIGNED_AT + timedelta(minutes=5)}, "does not chain"),
        ({"not_before": SIGNED_AT - timedelta(minutes=11)}, "does not chain"),
    ],
)
def test_certificate_profile(
    fake: FakeSigstore, fake_root: TrustedRoot, issue: dict[str, object], reason: str | None
) -> None:
    sig = _fake_signature(fake, fake.issue(**issue))  # type: ignore[arg-type]
    pol = keyless_policy(FAKE_IDENTITY)
    if reason is None:
        assert verify(sig, pol, fake_root)
    else:
        with pytest.raises(SignatureRejected, match=reason):
            verify(sig, pol, fake_root)


def test_uri_subject_with_regex(fake: FakeSigstore, fake_root: TrustedRoot) -> None:
    workflow = "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.3"
    sig = _fake_signature(fake, fake.issue(san=x509.UniformResourceIdentifier(workflow)))
    identity = KeylessIdentity(
        "https://issuer.test",
        subject_regex=re.compile(r"https://github\.com/org/repo/\.github/workflows/.*"),
    )
    assert verify(sig, keyless_policy(identity), fake_root).endswith(workflow)


def test_sct_from_an_untrusted_log_fails(fake: FakeSigstore) -> None:
    other_ct = FakeSigstore().ct_key.public_key()
    doc = trusted_root_json(
        [fake.intermediate, fake.root], [fake.rekor_key.public_key()], [other_ct]
    )
    root = load_trusted_root(doc, "root with another CT log")
    with pytest.raises(SignatureRejected, match=r"SCT does not verify: CT log .* not in"):
        verify(_fake_signature(fake, fake.issue()), keyless_policy(FAKE_IDENTITY), root)

"""cosign legacy ``.sig`` layers: real cosign output verifies, tampered copies do not."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gatekeeper.oci.manifest import Descriptor
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.cosign_legacy import verify_legacy_signature
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.keys import load_key_file
from gatekeeper.trust.material import TrustMaterial, trust_material
from gatekeeper.trust.trusted_root import TrustedRoot, production_trusted_root
from tests.unit.trust.conftest import (
    COSIGN,
    REKOR_DIGEST,
    VALID_DIGEST,
    FixtureSignature,
)


def material(*keys: Path, root: TrustedRoot | None = None) -> TrustMaterial:
    return trust_material(
        tuple(load_key_file(path) for path in keys), root or production_trusted_root()
    )


def policy(*keys: Path, tlog: str = "optional") -> SignaturePolicy:
    return SignaturePolicy(keys=keys, transparency_log=tlog)


def verify(sig: FixtureSignature, digest: str, pol: SignaturePolicy, mat: TrustMaterial) -> str:
    return verify_legacy_signature(sig.layer, sig.payload, digest, pol, mat)


COSIGN_PUB = COSIGN / "cosign.pub"
COSIGN2_PUB = COSIGN / "cosign2.pub"


def test_keyed_fixture_verifies_with_cosign_pub(keyed: FixtureSignature) -> None:
    signer = verify(keyed, VALID_DIGEST, policy(COSIGN_PUB), material(COSIGN_PUB))
    assert signer == f"key {load_key_file(COSIGN_PUB).short_id}"


def test_keyed_rekor_fixture_verifies_with_its_set(keyed_rekor: FixtureSignature) -> None:
    pol = policy(COSIGN2_PUB, tlog="required")
    assert verify(keyed_rekor, REKOR_DIGEST, pol, material(COSIGN2_PUB)).startswith("key ")


def test_keyed_rekor_fixture_verifies_with_a_test_root(
    keyed_rekor: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    pol = policy(COSIGN2_PUB, tlog="required")
    assert verify(keyed_rekor, REKOR_DIGEST, pol, material(COSIGN2_PUB, root=fixture_root))


def test_signature_for_another_image_names_both_digests(keyed: FixtureSignature) -> None:
    with pytest.raises(SignatureRejected) as caught:
        verify(keyed, REKOR_DIGEST, policy(COSIGN_PUB), material(COSIGN_PUB))
    assert caught.value.message == f"signature is for {VALID_DIGEST} not {REKOR_DIGEST}"


def test_wrong_key_lists_the_trusted_key_ids(keyed: FixtureSignature) -> None:
    short = load_key_file(COSIGN2_PUB).short_id
    with pytest.raises(SignatureRejected) as caught:
        verify(keyed, VALID_DIGEST, policy(COSIGN2_PUB), material(COSIGN2_PUB))
    assert caught.value.message == f"signed, but not by a trusted key (key ids: {short})"


def _flip(payload: bytes) -> bytes:
    # Change one byte inside the docker-reference, keeping the JSON valid.
    index = payload.index(b"192.168")
    return payload[:index] + b"8" + payload[index + 1 :]


def test_flipped_payload_byte_breaks_the_signature(keyed: FixtureSignature) -> None:
    tampered = keyed.with_payload(_flip(keyed.payload))
    with pytest.raises(SignatureRejected, match="not by a trusted key"):
        verify(tampered, VALID_DIGEST, policy(COSIGN_PUB), material(COSIGN_PUB))


def test_payload_not_matching_descriptor_digest(keyed: FixtureSignature) -> None:
    with pytest.raises(SignatureRejected, match="does not match its descriptor digest"):
        verify_legacy_signature(
            keyed.layer,
            _flip(keyed.payload),
            VALID_DIGEST,
            policy(COSIGN_PUB),
            material(COSIGN_PUB),
        )


def test_payload_size_must_match_descriptor(keyed: FixtureSignature) -> None:
    with pytest.raises(SignatureRejected, match="its descriptor says"):
        verify_legacy_signature(
            keyed.layer,
            keyed.payload + b" ",
            VALID_DIGEST,
            policy(COSIGN_PUB),
            material(COSIGN_PUB),
        )


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("!!!notbase64", "signature annotation is not valid base64"),
        ("", "not by a trusted key"),
        (base64.b64encode(b"\x30\x00").decode(), "not by a trusted key"),
        ("A" * 100_000, "larger than"),
        (None, "has no dev.cosignproject.cosign/signature annotation"),
    ],
)
def test_bad_signature_annotations(
    keyed: FixtureSignature, signature: str | None, reason: str
) -> None:
    tampered = keyed.with_annotations(signature=signature)
    with pytest.raises(SignatureRejected, match=reason):
        verify(tampered, VALID_DIGEST, policy(COSIGN_PUB), material(COSIGN_PUB))


def _bundle(sig: FixtureSignature) -> dict[str, object]:
    bundle: dict[str, object] = json.loads(sig.annotations["dev.sigstore.cosign/bundle"])
    return bundle


def test_tampered_set_fails_even_when_the_log_is_optional(keyed_rekor: FixtureSignature) -> None:
    bundle = _bundle(keyed_rekor)
    payload = bundle["Payload"]
    assert isinstance(payload, dict)
    payload["integratedTime"] += 1  # a lie about when it was logged
    tampered = keyed_rekor.with_annotations(bundle=json.dumps(bundle))
    pol = policy(COSIGN2_PUB, tlog="optional")
    with pytest.raises(SignatureRejected, match="Rekor SET does not verify"):
        verify(tampered, REKOR_DIGEST, pol, material(COSIGN2_PUB))


def test_set_from_an_unknown_log_fails(keyed_rekor: FixtureSignature) -> None:
    bundle = _bundle(keyed_rekor)
    payload = bundle["Payload"]
    assert isinstance(payload, dict)
    payload["logID"] = "ab" * 32
    tampered = keyed_rekor.with_annotations(bundle=json.dumps(bundle))
    with pytest.raises(SignatureRejected, match="not in the trusted root"):
        verify(tampered, REKOR_DIGEST, policy(COSIGN2_PUB), material(COSIGN2_PUB))


def test_missing_set_is_fine_only_when_the_log_is_optional(keyed_rekor: FixtureSignature) -> None:
    stripped = keyed_rekor.with_annotations(bundle=None)
    mat = material(COSIGN2_PUB)
    assert verify(stripped, REKOR_DIGEST, policy(COSIGN2_PUB, tlog="optional"), mat)
    with pytest.raises(SignatureRejected, match="no Rekor SET; the policy requires one"):
        verify(stripped, REKOR_DIGEST, policy(COSIGN2_PUB, tlog="required"), mat)


def test_a_valid_set_for_another_signature_does_not_count(
    keyed: FixtureSignature, keyed_rekor: FixtureSignature
) -> None:
    # Graft the (genuine) SET of one signature onto another validly signed payload.
    grafted = keyed.with_annotations(bundle=keyed_rekor.annotations["dev.sigstore.cosign/bundle"])
    with pytest.raises(SignatureRejected, match="Rekor entry is for a different payload"):
        verify(grafted, VALID_DIGEST, policy(COSIGN_PUB), material(COSIGN_PUB))


@pytest.mark.parametrize(
    "bundle",
    ["{", "[]", '{"SignedEntryTimestamp":"AAAA"}', '{"Payload":{},"SignedEntryTimestamp":"x"}'],
)
def test_garbage_rekor_bundle_is_a_reason(keyed_rekor: FixtureSignature, bundle: str) -> None:
    tampered = keyed_rekor.with_annotations(bundle=bundle)
    with pytest.raises(SignatureRejected, match="Rekor bundle"):
        verify(tampered, REKOR_DIGEST, policy(COSIGN2_PUB), material(COSIGN2_PUB))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"critical":{"type":"x"}}', "payload type 'x' is not"),
        (
            b'{"critical":{"type":"cosign container image signature"}}',
            "'image' is missing",
        ),
        (
            b'{"critical":{"type":"cosign container image signature",'
            b'"image":{"docker-manifest-digest":"sha256:1"},'
            b'"image":{"docker-manifest-digest":"sha256:2"}}}',
            "duplicate key",
        ),
    ],
)
def test_malformed_payloads(keyed: FixtureSignature, payload: bytes, reason: str) -> None:
    tampered = keyed.with_payload(payload)
    with pytest.raises(SignatureRejected, match=reason):
        verify(tampered, VALID_DIGEST, policy(COSIGN_PUB), material(COSIGN_PUB))


def test_non_signature_layers_are_refused(keyed: FixtureSignature) -> None:
    layer = Descriptor(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        keyed.layer.digest,
        keyed.layer.size,
        annotations=keyed.annotations,
    )
    with pytest.raises(SignatureRejected, match="is not a signature"):
        verify_legacy_signature(
            layer, keyed.payload, VALID_DIGEST, policy(COSIGN_PUB), material(COSIGN_PUB)
        )


def test_no_keys_and_no_certificate(keyed: FixtureSignature) -> None:
    with pytest.raises(SignatureRejected, match="no certificate, and the policy names no keys"):
        verify(keyed, VALID_DIGEST, SignaturePolicy(), material())

"""evaluate_signatures: many candidates in, distinct signers and bounded problems out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.oci.manifest import parse_manifest
from gatekeeper.policy.model import KeylessIdentity, SignaturePolicy
from gatekeeper.trust import (
    BundleSignature,
    Candidate,
    LegacySignature,
    TrustLimits,
    evaluate_signatures,
)
from gatekeeper.trust.keys import load_key_file, load_public_key
from gatekeeper.trust.material import TrustMaterial, trust_material
from gatekeeper.trust.trusted_root import TrustedRoot
from tests.helpers import cosign_sign
from tests.unit.trust.conftest import (
    COSIGN,
    FULCIO_ISSUER,
    FULCIO_SUBJECT,
    REKOR_DIGEST,
    VALID_DIGEST,
    FixtureSignature,
)

SIG_TAG = "tag " + cosign_sign.signature_tag(REKOR_DIGEST)


def legacy(sig: FixtureSignature, source: str = SIG_TAG) -> LegacySignature:
    return LegacySignature(source, sig.layer, sig.payload)


@pytest.fixture
def material(fixture_root: TrustedRoot) -> TrustMaterial:
    return trust_material((load_key_file(COSIGN / "cosign2.pub"),), fixture_root)


def both_policy(threshold: int = 2) -> SignaturePolicy:
    return SignaturePolicy(
        keys=(COSIGN / "cosign2.pub",),
        keyless=(KeylessIdentity(FULCIO_ISSUER, FULCIO_SUBJECT),),
        threshold=threshold,
        transparency_log="required",
    )


def test_keyed_and_keyless_signatures_are_two_signers(
    keyed_rekor: FixtureSignature, keyless: FixtureSignature, material: TrustMaterial
) -> None:
    evidence = evaluate_signatures(
        [legacy(keyed_rekor), legacy(keyless)],
        REKOR_DIGEST,
        both_policy(),
        material,
        looked_at=[SIG_TAG, "referrers of " + REKOR_DIGEST],
    )
    assert evidence.signers == (
        f"key {material.keys[0].short_id}",
        f"{FULCIO_ISSUER} {FULCIO_SUBJECT}",
    )
    assert evidence.problems == ()
    assert evidence.looked_at == (SIG_TAG, "referrers of " + REKOR_DIGEST)


def test_problems_name_their_source_and_verified_ones_still_count(
    keyed: FixtureSignature, keyless: FixtureSignature, material: TrustMaterial
) -> None:
    evidence = evaluate_signatures(
        [legacy(keyed, "layer 0"), legacy(keyless, "layer 1")],
        REKOR_DIGEST,
        both_policy(),
        material,
    )
    assert evidence.signers == (f"{FULCIO_ISSUER} {FULCIO_SUBJECT}",)
    assert evidence.problems == (f"layer 0: signature is for {VALID_DIGEST} not {REKOR_DIGEST}",)


def test_one_signer_signing_twice_is_one_signer(fake_root: TrustedRoot) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    mat = trust_material((load_public_key(cosign_sign.public_key_pem(key), "k"),), fake_root)
    candidates: list[Candidate] = []
    for i in range(3):
        art = cosign_sign.sign_image(VALID_DIGEST, "registry.test/app", key)
        layer = parse_manifest(art.manifest).layers[0]
        candidates.append(LegacySignature(f"layer {i}", layer, art.blobs[layer.digest]))
    candidates.append(
        BundleSignature(
            "referrer", cosign_sign.dsse_bundle(key, cosign_sign.sign_statement(VALID_DIGEST))
        )
    )
    evidence = evaluate_signatures(candidates, VALID_DIGEST, SignaturePolicy(threshold=2), mat)
    assert evidence.signers == (f"key {mat.keys[0].short_id}",)
    assert evidence.problems == ()
    assert len(evidence.looked_at) == 4  # all were examined: the threshold was never met


def test_examination_stops_once_the_threshold_is_met(
    keyed: FixtureSignature, keyed_rekor: FixtureSignature, material: TrustMaterial
) -> None:
    candidates = [legacy(keyed, "bad"), legacy(keyed_rekor, "good"), legacy(keyed, "never")]
    evidence = evaluate_signatures(candidates, REKOR_DIGEST, both_policy(threshold=1), material)
    assert len(evidence.signers) == 1
    assert evidence.looked_at == ("bad", "good")
    assert [p.split(":")[0] for p in evidence.problems] == ["bad"]


def test_thousands_of_candidates_are_not_all_read(
    keyed: FixtureSignature, material: TrustMaterial
) -> None:
    consumed = 0

    def flood() -> Iterator[Candidate]:
        nonlocal consumed
        for i in range(10_000):
            consumed += 1
            yield legacy(keyed, f"layer {i}")

    evidence = evaluate_signatures(flood(), REKOR_DIGEST, both_policy(), material)
    assert consumed == 65  # 64 examined, one more seen to know there were more
    assert len(evidence.looked_at) == 64
    assert evidence.signers == ()
    assert len(evidence.problems) == 17
    assert evidence.problems[-1] == "… and 49 more problems"


def test_identical_problems_are_reported_once(
    keyed: FixtureSignature, material: TrustMaterial
) -> None:
    limits = TrustLimits(max_candidates=3)
    evidence = evaluate_signatures(
        [legacy(keyed, "same")] * 5, REKOR_DIGEST, both_policy(), material, limits=limits
    )
    assert evidence.problems == (
        f"same: signature is for {VALID_DIGEST} not {REKOR_DIGEST}",
        "more than 3 signature artifacts; the rest were not examined",
    )


def test_unexpected_failures_are_contained(
    keyed: FixtureSignature, material: TrustMaterial, caplog: pytest.LogCaptureFixture
) -> None:
    broken = LegacySignature("broken", keyed.layer, cast(Any, None))
    evidence = evaluate_signatures([broken], VALID_DIGEST, both_policy(), material)
    assert evidence.signers == ()
    assert evidence.problems == ("broken: could not be verified (TypeError)",)
    assert "failed unexpectedly" in caplog.text


def test_long_reasons_are_cut(keyed: FixtureSignature, material: TrustMaterial) -> None:
    evidence = evaluate_signatures(
        [legacy(keyed, "x" * 1000)], REKOR_DIGEST, both_policy(), material
    )
    assert len(evidence.problems[0]) == 300


def test_nothing_found_is_empty_evidence(material: TrustMaterial) -> None:
    evidence = evaluate_signatures([], REKOR_DIGEST, both_policy(), material, looked_at=[SIG_TAG])
    assert (evidence.signers, evidence.problems, evidence.looked_at) == ((), (), (SIG_TAG,))

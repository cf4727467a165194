"""Signed attestations: cosign ``.att`` DSSE layers (keyed, keyless, with Rekor SETs over intoto
and dsse entries) and attestation bundles; and what must not count."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.oci.digest import sha256_digest
from gatekeeper.oci.manifest import Descriptor
from gatekeeper.policy.model import KeylessIdentity, SignaturePolicy
from gatekeeper.trust.attestations import (
    evaluate_attestations,
    verify_attestation,
)
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.keys import load_public_key
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial, trust_material
from gatekeeper.trust.trusted_root import TrustedRoot
from gatekeeper.trust.verify import BundleSignature, Candidate, LegacySignature
from tests.helpers import attest, cosign_sign
from tests.helpers.fake_sigstore import FakeSigstore

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
TRIVY = Path(__file__).resolve().parents[2] / "assets" / "trivy"
REPORT = json.loads((TRIVY / "debian-buster.json").read_bytes())
FINISHED = datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
SOURCE = "tag " + attest.attestation_tag(DIGEST)
IDENTITY = KeylessIdentity("https://issuer.test", subject="dev@example.test")
SIGNER = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())


def statement(digest: str = DIGEST, predicate_type: str = attest.VULN) -> bytes:
    predicate = attest.vuln_predicate(REPORT, finished=FINISHED)
    return attest.vuln_statement(digest, "registry.test/team/app", predicate, predicate_type)


def candidate(layer: attest.AttestationLayer, source: str = SOURCE) -> LegacySignature:
    descriptor = Descriptor(
        attest.DSSE, layer.digest, len(layer.envelope), annotations=layer.annotations
    )
    return LegacySignature(source, descriptor, layer.envelope)


def keyed(
    fake_root: TrustedRoot, key: ec.EllipticCurvePrivateKey = SIGNER, log: str = "optional"
) -> tuple[SignaturePolicy, TrustMaterial]:
    trusted = load_public_key(cosign_sign.public_key_pem(key), "test key")
    return SignaturePolicy(transparency_log=log), trust_material((trusted,), fake_root)


def verify(
    item: Candidate,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits = DEFAULT_LIMITS,
) -> Any:
    return verify_attestation(item, DIGEST, attest.VULN, policy, material, limits)


def rejected(item: Candidate, policy: SignaturePolicy, material: TrustMaterial) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(item, policy, material)
    return caught.value.message


# --- what counts -----------------------------------------------------------------------------


def test_keyed_att_layer_returns_the_verified_statement(fake_root: TrustedRoot) -> None:
    signed = statement()
    verified = verify(candidate(attest.keyed_layer(signed, SIGNER)), *keyed(fake_root))
    assert verified.signer == f"key {keyed(fake_root)[1].keys[0].short_id}"
    assert verified.payload == signed
    assert verified.source == SOURCE
    assert (
        verified.statement["predicate"]["scanner"]["result"]["ArtifactName"]
        == (REPORT["ArtifactName"])
    )


@pytest.mark.parametrize("entry", ["intoto", "dsse"])
def test_keyed_layer_with_a_rekor_set_meets_a_required_log(
    fake: FakeSigstore, fake_root: TrustedRoot, entry: str
) -> None:
    layer = attest.keyed_layer(statement(), SIGNER, rekor_key=fake.rekor_key, entry=entry)
    assert verify(candidate(layer), *keyed(fake_root, log="required")).signer.startswith("key ")


def test_intoto_v002_entry_names_the_signature(fake: FakeSigstore, fake_root: TrustedRoot) -> None:
    signed = statement()
    blob, signature = attest.envelope(signed, SIGNER)
    pem = cosign_sign.public_key_pem(SIGNER)
    body = attest.intoto_v002_body(blob, signed, signature, pem)
    annotations = {
        "predicateType": attest.VULN,
        "dev.sigstore.cosign/bundle": cosign_sign.rekor_bundle(fake.rekor_key, body, 1714564800),
    }
    good = attest.AttestationLayer(blob, annotations)
    assert verify(candidate(good), *keyed(fake_root, log="required"))
    other_sig = attest.intoto_v002_body(blob, signed, b"\x30\x00", pem)
    annotations["dev.sigstore.cosign/bundle"] = cosign_sign.rekor_bundle(
        fake.rekor_key, other_sig, 1714564800
    )
    bad = attest.AttestationLayer(blob, annotations)
    message = rejected(candidate(bad), *keyed(fake_root, log="required"))
    assert message == "Rekor entry names a different signature or signer"


@pytest.mark.parametrize("entry", ["intoto", "dsse"])
def test_keyless_att_layer(fake: FakeSigstore, fake_root: TrustedRoot, entry: str) -> None:
    layer = attest.keyless_layer(fake, fake.issue(), statement(), entry=entry)
    policy = SignaturePolicy(keyless=(IDENTITY,), transparency_log="required")
    verified = verify(candidate(layer), policy, trust_material((), fake_root))
    assert verified.signer == "https://issuer.test dev@example.test"


def test_keyless_attestation_bundle(fake: FakeSigstore, fake_root: TrustedRoot) -> None:
    bundle = BundleSignature("referrer x", fake.keyless_bundle(fake.issue(), statement()))
    policy = SignaturePolicy(keyless=(IDENTITY,))
    verified = verify(bundle, policy, trust_material((), fake_root))
    assert verified.signer == "https://issuer.test dev@example.test"
    assert verified.statement["predicateType"] == attest.VULN


def test_key_based_attestation_bundle(fake_root: TrustedRoot) -> None:
    bundle = BundleSignature("referrer x", cosign_sign.dsse_bundle(SIGNER, statement()))
    assert verify(bundle, *keyed(fake_root)).signer.startswith("key ")


def test_an_attestation_bundle_larger_than_a_signature_bundle_may_be(
    fake_root: TrustedRoot,
) -> None:
    big = dict(REPORT, Padding="x" * (2 * 1024 * 1024))  # past max_bundle_bytes (1 MiB)
    predicate = attest.vuln_predicate(big, finished=FINISHED)
    signed = attest.vuln_statement(DIGEST, "r/app", predicate)
    bundle = BundleSignature("referrer x", cosign_sign.dsse_bundle(SIGNER, signed))
    assert verify(bundle, *keyed(fake_root)).payload == signed


# --- what does not count ---------------------------------------------------------------------


def test_signed_by_an_untrusted_key(fake_root: TrustedRoot) -> None:
    layer = attest.keyed_layer(statement(), STRANGER)
    assert rejected(candidate(layer), *keyed(fake_root)).startswith(
        "signed, but not by a trusted key (key ids: "
    )


def test_keyless_attestation_needs_a_keyless_policy(
    fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    layer = attest.keyless_layer(fake, fake.issue(), statement())
    message = rejected(candidate(layer), *keyed(fake_root))
    assert message.startswith("signed with a certificate, but the policy names no keyless")


def test_keyless_attestation_of_another_identity(
    fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    leaf = fake.issue(san=x509.RFC822Name("mallory@example.test"))
    layer = attest.keyless_layer(fake, leaf, statement())
    policy = SignaturePolicy(keyless=(IDENTITY,))
    message = rejected(candidate(layer), policy, trust_material((), fake_root))
    assert "mallory@example.test (issuer https://issuer.test) does not match" in message


def test_required_log_without_a_set(fake_root: TrustedRoot) -> None:
    layer = attest.keyed_layer(statement(), SIGNER)
    message = rejected(candidate(layer), *keyed(fake_root, log="required"))
    assert message == "attestation has no Rekor SET; the policy requires one"


def test_tampered_statement_keeps_the_old_signature(fake_root: TrustedRoot) -> None:
    signed = statement()
    _, signature = attest.envelope(signed, SIGNER)
    forged = signed.replace(b'"Severity":"CRITICAL"', b'"Severity":"LOW"')
    assert forged != signed
    layer = attest.AttestationLayer(attest.envelope_with(forged, signature), {})
    assert rejected(candidate(layer), *keyed(fake_root)).startswith("signed, but not by a trusted")


def test_envelope_changed_after_it_was_logged(fake: FakeSigstore, fake_root: TrustedRoot) -> None:
    logged = attest.keyed_layer(statement(), SIGNER, rekor_key=fake.rekor_key)
    # Same statement signed again (ECDSA is randomized): a valid envelope, not the logged one.
    again = attest.keyed_layer(statement(), SIGNER)
    layer = attest.AttestationLayer(again.envelope, logged.annotations)
    message = rejected(candidate(layer), *keyed(fake_root))
    assert message == "Rekor entry is for a different envelope"


def test_blob_that_does_not_match_its_descriptor(fake_root: TrustedRoot) -> None:
    layer = attest.keyed_layer(statement(), SIGNER)
    item = candidate(layer)
    swapped = LegacySignature(
        SOURCE, replace(item.layer, digest=sha256_digest(b"other")), item.payload
    )
    assert rejected(swapped, *keyed(fake_root)).startswith(
        "payload does not match its descriptor digest"
    )


def test_attestation_about_another_image(fake_root: TrustedRoot) -> None:
    layer = attest.keyed_layer(statement(OTHER), SIGNER)
    assert rejected(candidate(layer), *keyed(fake_root)) == (
        f"attestation is for {OTHER} not {DIGEST}"
    )


def test_attestation_of_another_predicate(fake_root: TrustedRoot) -> None:
    layer = attest.keyed_layer(statement(predicate_type="https://spdx.dev/Document"), SIGNER)
    assert rejected(candidate(layer), *keyed(fake_root)) == (
        f"attestation predicate is 'https://spdx.dev/Document', not {attest.VULN!r}"
    )


def test_an_image_signature_bundle_is_not_a_vuln_attestation(fake_root: TrustedRoot) -> None:
    bundle = BundleSignature(
        "referrer x", cosign_sign.dsse_bundle(SIGNER, cosign_sign.sign_statement(DIGEST))
    )
    assert "attestation predicate is 'https://sigstore.dev/cosign/sign/v1'" in rejected(
        bundle, *keyed(fake_root)
    )


def test_oversized_envelope_is_refused_from_its_descriptor(fake_root: TrustedRoot) -> None:
    layer = attest.keyed_layer(statement(), SIGNER)
    limits = TrustLimits(max_attestation_bytes=1024)
    with pytest.raises(SignatureRejected, match="payload is larger than 1024 bytes"):
        verify(candidate(layer), *keyed(fake_root), limits=limits)
    not_fetched = LegacySignature(SOURCE, candidate(layer).layer, b"")  # what a gatherer passes
    with pytest.raises(SignatureRejected, match="payload is larger than 1024 bytes"):
        verify(not_fetched, *keyed(fake_root), limits=limits)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


GOOD_SIG = {"keyid": "", "sig": _b64(b"\x30\x00")}


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"\xff\xfe not json", "DSSE envelope is not valid JSON"),
        (b"[]", "DSSE envelope is not a JSON object"),
        (b'{"payloadType":"a","payloadType":"b"}', "duplicate key"),
        (b"[" * 100_000 + b"]" * 100_000, "DSSE envelope is not valid JSON"),
        (json.dumps({"payload": "e30="}).encode(), "'payloadType' is missing"),
        (
            json.dumps({"payloadType": cosign_sign.IN_TOTO, "payload": "%%%"}).encode(),
            "DSSE payload is not valid base64",
        ),
        (
            json.dumps(
                {"payloadType": cosign_sign.IN_TOTO, "payload": "e30=", "signatures": []}
            ).encode(),
            "no or too many signatures",
        ),
        (
            json.dumps(
                {
                    "payloadType": cosign_sign.IN_TOTO,
                    "payload": "e30=",
                    "signatures": [GOOD_SIG] * 9,
                }
            ).encode(),
            "no or too many signatures",
        ),
        (
            json.dumps(
                {"payloadType": cosign_sign.IN_TOTO, "payload": "e30=", "signatures": ["x"]}
            ).encode(),
            "'sig' is missing",
        ),
    ],
)
def test_garbage_envelopes_are_reasons(fake_root: TrustedRoot, blob: bytes, reason: str) -> None:
    item = candidate(attest.AttestationLayer(blob, {}))
    assert reason in rejected(item, *keyed(fake_root))


def test_signed_payload_that_is_not_a_statement(fake_root: TrustedRoot) -> None:
    text = b"plain text"
    signature = cosign_sign.sign(SIGNER, cosign_sign.dsse_pae("text/plain", text))
    blob = json.dumps(
        {
            "payloadType": "text/plain",
            "payload": _b64(text),
            "signatures": [{"sig": _b64(signature)}],
        }
    ).encode()
    item = candidate(attest.AttestationLayer(blob, {}))
    assert rejected(item, *keyed(fake_root)) == "DSSE payload type 'text/plain' is not in-toto"


def test_evaluate_collects_statements_and_reasons_and_never_raises(
    fake_root: TrustedRoot,
) -> None:
    good = candidate(attest.keyed_layer(statement(), SIGNER))
    candidates: list[Candidate] = [
        candidate(attest.AttestationLayer(b"junk", {"dev.sigstore.cosign/bundle": "{"})),
        candidate(attest.keyed_layer(statement(), STRANGER)),
        BundleSignature("referrer r", b"\x00" * 10),
        good,
    ]
    evidence = evaluate_attestations(
        candidates, DIGEST, attest.VULN, *keyed(fake_root), looked_at=("referrers",)
    )
    assert [s.payload for s in evidence.statements] == [statement_of(good)]
    assert evidence.looked_at == ("referrers", SOURCE, "referrer r")
    assert len(evidence.problems) == 3
    assert all(p.startswith((SOURCE + ": ", "referrer r: ")) for p in evidence.problems)


def statement_of(item: LegacySignature) -> bytes:
    return base64.b64decode(json.loads(item.payload)["payload"])


def test_evaluate_stops_after_max_candidates(fake_root: TrustedRoot) -> None:
    layer = candidate(attest.keyed_layer(statement(), STRANGER))
    evidence = evaluate_attestations(
        [layer] * 5, DIGEST, attest.VULN, *keyed(fake_root), limits=TrustLimits(max_candidates=2)
    )
    assert evidence.statements == ()
    assert evidence.problems[-1] == "more than 2 attestations; the rest were not examined"


def test_a_bundle_cannot_be_matched_to_an_intoto_entry(
    fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    signed = statement()
    blob, signature = attest.envelope(signed, SIGNER)
    body = attest.intoto_body(blob, signed, cosign_sign.public_key_pem(SIGNER))
    entry = cosign_sign.bundle_tlog_entry(fake.rekor_key, body, 1714564800)
    bundle = cosign_sign.dsse_bundle(SIGNER, signed, tlog_entries=[entry], signature=signature)
    message = rejected(BundleSignature("referrer x", bundle), *keyed(fake_root))
    assert message == "Rekor intoto entry hashes envelope bytes this bundle lacks"

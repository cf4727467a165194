"""Rekor v2 (inclusion proof + checkpoint), RFC 3161 timestamps and timestamp-only bundles.

Real fixtures: sigstore-conformance ``bundle-verify`` cases (staging Rekor v2 shards, staging
TSA) and a GitHub-instance attestation (``fulcio.githubapp.com`` + ``timestamp.githubapp.com``,
no log) with GitHub's trusted root (tests/assets/trust/SOURCES.md). Own signer
(tests/helpers/rekor_v2.py) for key-signed bundles and the tampered cases no fixture covers.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gatekeeper.policy.model import KeylessIdentity, SignaturePolicy
from gatekeeper.trust.bundles import open_bundle, verify_bundle
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.inclusion import verify_inclusion
from gatekeeper.trust.keys import load_public_key
from gatekeeper.trust.limits import DEFAULT_LIMITS
from gatekeeper.trust.material import TrustMaterial, trust_material
from gatekeeper.trust.timestamps import verify_timestamps
from gatekeeper.trust.trusted_root import (
    TrustedRoot,
    load_trusted_root,
    load_trusted_root_file,
    production_trusted_root,
)
from gatekeeper.trust.verify import LegacySignature, evaluate_signatures
from tests.helpers import cosign_sign, rekor_v2
from tests.helpers.fake_sigstore import FakeSigstore
from tests.helpers.tsa import Tsa, make_tsa
from tests.unit.trust.conftest import ASSETS, FixtureSignature

REKOR2 = ASSETS / "rekor2"
GITHUB = ASSETS / "github-instance"
DIGEST = "sha256:" + "ab" * 32
BEACON = KeylessIdentity(
    "https://token.actions.githubusercontent.com",
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
)
GITHUB_PROBER = KeylessIdentity(
    "https://token.actions.githubusercontent.com",
    subject_regex=re.compile(r"https://github\.com/actions/attest-build-provenance/.+"),
)


def _case(name: str) -> tuple[dict[str, Any], TrustedRoot]:
    folder = REKOR2 / name
    bundle = json.loads((folder / "bundle.sigstore.json").read_bytes())
    path = folder / "trusted_root.json"
    root = load_trusted_root_file(path) if path.exists() else production_trusted_root()
    return bundle, root


def _signature(bundle: dict[str, Any]) -> bytes:
    if "dsseEnvelope" in bundle:
        return base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"])
    return base64.b64decode(bundle["messageSignature"]["signature"])


# --- real Rekor v2 entries: inclusion proofs and checkpoints --------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "rekor2-happy-path",
        "rekor2-dsse-happy-path",
        "rekor2-checkpoint-origin-not-first",  # the log's line after a witness's
        "rekor2-checkpoint-cosigned",  # witness cosignatures beside the log's
    ],
)
def test_real_rekor_v2_inclusion_proofs_verify(name: str) -> None:
    bundle, root = _case(name)
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    proven = verify_inclusion(entry, root, None, DEFAULT_LIMITS)
    assert (proven.kind, proven.version) == ("hashedrekord", "0.0.2")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("rekor2-checkpoint-no-matching-signature_fail", "checkpoint signature does not verify"),
        ("rekor2-checkpoint-missing-log-signature_fail", "checkpoint is not a signed note"),
        ("checkpoint-wrong-roothash_fail", "checkpoint states another tree"),
        ("invalid-inclusion-proof_fail", "does not hash to its root"),
    ],
)
def test_real_bad_inclusion_proofs_are_refused(name: str, reason: str) -> None:
    bundle, root = _case(name)
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    with pytest.raises(SignatureRejected, match=reason):
        verify_inclusion(entry, root, None, DEFAULT_LIMITS)


# --- real RFC 3161 timestamps ------------------------------------------------------------


def test_real_timestamp_verifies_against_the_trusted_root_tsa() -> None:
    bundle, root = _case("rekor2-timestamp-with-embedded-cert")
    times = verify_timestamps(
        bundle["verificationMaterial"], _signature(bundle), root, DEFAULT_LIMITS
    )
    assert times == (datetime(2025, 8, 6, 18, 51, 36, tzinfo=UTC),)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("rekor2-timestamp-outside-trust-root-tsa-validity_fail", "was not valid at"),
        ("rekor2-timestamp-payload-mismatch_fail", "Mismatch between messages"),
        ("rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail", "does not verify"),
    ],
)
def test_real_bad_timestamps_are_refused(name: str, reason: str) -> None:
    bundle, root = _case(name)
    with pytest.raises(SignatureRejected, match=reason):
        verify_timestamps(bundle["verificationMaterial"], _signature(bundle), root, DEFAULT_LIMITS)


# --- real keyless bundles: Rekor v2 (sigstore-python) and GitHub's instance (ours) --------


def _keyless(root: TrustedRoot, identity: KeylessIdentity, **kw: str) -> SignaturePolicy:
    return SignaturePolicy(keyless=(identity,), material=trust_material((), root), **kw)


def test_real_keyless_rekor_v2_dsse_bundle_verifies() -> None:
    bundle, root = _case("rekor2-dsse-happy-path")
    policy = _keyless(root, BEACON, transparency_log="required", timestamps="required")
    assert policy.material is not None
    data = json.dumps(bundle).encode()
    signer, _, _ = open_bundle(data, policy, policy.material, DEFAULT_LIMITS)
    assert signer.endswith("@refs/heads/main")


@pytest.mark.parametrize(
    "name", ["rekor2-dsse-mismatch-sig_fail", "rekor2-dsse-mismatch-envelope_fail"]
)
def test_real_keyless_rekor_v2_mismatches_are_refused(name: str) -> None:
    bundle, root = _case(name)
    policy = _keyless(root, BEACON)
    assert policy.material is not None
    with pytest.raises(SignatureRejected, match="inconsistent"):
        open_bundle(json.dumps(bundle).encode(), policy, policy.material, DEFAULT_LIMITS)


def _github() -> tuple[bytes, TrustedRoot]:
    bundle = (GITHUB / "13531551.sigstore.json").read_bytes()
    return bundle, load_trusted_root_file(GITHUB / "trusted_root.json")


def test_real_github_instance_bundle_verifies_by_timestamp() -> None:
    data, root = _github()
    assert not root.rekor and not root.ctlogs and len(root.tsas) == 5
    policy = _keyless(root, GITHUB_PROBER, timestamps="required")
    assert policy.material is not None
    signer, _, payload = open_bundle(data, policy, policy.material, DEFAULT_LIMITS)
    assert signer.endswith("prober.yml@refs/heads/main")
    assert json.loads(payload)["predicateType"] == "https://slsa.dev/provenance/v1"


def _edit(data: bytes, change: Any) -> bytes:
    doc = json.loads(data)
    change(doc)
    return json.dumps(doc).encode()


def _other_payload(doc: dict[str, Any]) -> None:
    doc["dsseEnvelope"]["payload"] = base64.b64encode(b'{"_type":"x"}').decode()


def _no_timestamp(doc: dict[str, Any]) -> None:
    del doc["verificationMaterial"]["timestampVerificationData"]


def _twice(doc: dict[str, Any]) -> None:
    stamps = doc["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    stamps.append(stamps[0])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_other_payload, "DSSE signature does not verify"),
        (_no_timestamp, "no verified signing time"),
        (_twice, "same timestamp twice"),
    ],
)
def test_tampered_github_instance_bundles_are_refused(change: Any, reason: str) -> None:
    data, root = _github()
    policy = _keyless(root, GITHUB_PROBER)
    assert policy.material is not None
    with pytest.raises(SignatureRejected, match=reason):
        open_bundle(_edit(data, change), policy, policy.material, DEFAULT_LIMITS)


def test_github_instance_bundle_needs_no_log_policy_and_githubs_root() -> None:
    data, root = _github()
    required = _keyless(root, GITHUB_PROBER, transparency_log="required")
    assert required.material is not None
    with pytest.raises(SignatureRejected, match="no transparency log entry"):
        open_bundle(data, required, required.material, DEFAULT_LIMITS)
    public_good = load_trusted_root_file(GITHUB / "public_good_trusted_root.json")
    policy = _keyless(public_good, GITHUB_PROBER)
    assert policy.material is not None
    with pytest.raises(SignatureRejected, match="signed timestamp does not verify"):
        open_bundle(data, policy, policy.material, DEFAULT_LIMITS)


# --- own signer: key-signed Rekor v2 bundles and the tampered cases -------------------------


@pytest.fixture(scope="module")
def tsa() -> Tsa:
    return make_tsa("Rekor v2 test TSA")


@pytest.fixture(scope="module")
def log() -> rekor_v2.FakeRekorV2:
    return rekor_v2.FakeRekorV2()


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _material(
    fake: FakeSigstore, log: rekor_v2.FakeRekorV2, tsas: list[Tsa], key: Any = None
) -> TrustMaterial:
    root = load_trusted_root(
        rekor_v2.with_logs_and_tsas(fake.trusted_root(), [log], tsas), "rekor v2 test root"
    )
    keys = () if key is None else (load_public_key(cosign_sign.public_key_pem(key), "test"),)
    return trust_material(keys, root)


def _keyed(
    key: ec.EllipticCurvePrivateKey,
    log: rekor_v2.FakeRekorV2,
    tsa: Tsa | None,
    **entry_options: Any,
) -> bytes:
    statement = cosign_sign.sign_statement(DIGEST)
    pae = cosign_sign.dsse_pae(cosign_sign.IN_TOTO, statement)
    signature = cosign_sign.sign(key, pae)
    logged = entry_options.pop("logged_key", key)
    body = rekor_v2.hashedrekord_v2_body(pae, signature, rekor_v2.key_verifier(logged))
    return rekor_v2.bundle(
        statement,
        signature,
        material={"publicKey": {"hint": ""}},
        tlog_entries=[log.entry(body, **entry_options)],
        timestamps=[rekor_v2.timestamp_response(tsa, signature)] if tsa else [],
    )


def _keyed_policy(material: TrustMaterial, **kw: str) -> SignaturePolicy:
    return SignaturePolicy(keys=(Path("k.pub"),), material=material, **kw)


def test_key_signed_rekor_v2_bundle_verifies(
    fake: FakeSigstore, log: rekor_v2.FakeRekorV2, tsa: Tsa, key: ec.EllipticCurvePrivateKey
) -> None:
    material = _material(fake, log, [tsa], key)
    policy = _keyed_policy(material, transparency_log="required", timestamps="required")
    signer = verify_bundle(_keyed(key, log, tsa), DIGEST, policy, material)
    assert signer.startswith("key ")


def test_key_signed_rekor_v2_without_timestamp_uses_a_current_log_key(
    fake: FakeSigstore, log: rekor_v2.FakeRekorV2, key: ec.EllipticCurvePrivateKey
) -> None:
    material = _material(fake, log, [], key)
    bundle = _keyed(key, log, None)
    assert verify_bundle(
        bundle, DIGEST, _keyed_policy(material, transparency_log="required"), material
    )
    with pytest.raises(SignatureRejected, match="no RFC 3161 timestamp; the policy requires one"):
        verify_bundle(bundle, DIGEST, _keyed_policy(material, timestamps="required"), material)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"checkpoint_signer": ed25519.Ed25519PrivateKey.generate()}, "checkpoint signature"),
        ({"proven_body": b'{"kind":"hashedrekord"}'}, "does not hash to its root"),
        (
            {"logged_key": ec.generate_private_key(ec.SECP256R1())},
            "names a different signature or signer",
        ),
    ],
)
def test_tampered_key_signed_rekor_v2_bundles_are_refused(
    fake: FakeSigstore,
    log: rekor_v2.FakeRekorV2,
    tsa: Tsa,
    key: ec.EllipticCurvePrivateKey,
    options: dict[str, Any],
    reason: str,
) -> None:
    material = _material(fake, log, [tsa], key)
    with pytest.raises(SignatureRejected, match=reason):
        verify_bundle(_keyed(key, log, tsa, **options), DIGEST, _keyed_policy(material), material)


def test_timestamp_from_a_tsa_outside_the_trusted_root_is_refused(
    fake: FakeSigstore, log: rekor_v2.FakeRekorV2, tsa: Tsa, key: ec.EllipticCurvePrivateKey
) -> None:
    bundle = _keyed(key, log, make_tsa("Rogue TSA"))
    with pytest.raises(SignatureRejected, match="signed timestamp does not verify"):
        material = _material(fake, log, [tsa], key)
        verify_bundle(bundle, DIGEST, _keyed_policy(material), material)
    without = _material(fake, log, [], key)
    with pytest.raises(SignatureRejected, match="names no timestamp authority"):
        verify_bundle(bundle, DIGEST, _keyed_policy(without), without)


def test_checkpoint_of_an_unknown_log_is_refused(
    fake: FakeSigstore, tsa: Tsa, key: ec.EllipticCurvePrivateKey
) -> None:
    material = _material(fake, rekor_v2.FakeRekorV2(), [tsa], key)
    stranger = rekor_v2.FakeRekorV2(origin="elsewhere.test")
    with pytest.raises(SignatureRejected, match="not in the trusted root"):
        verify_bundle(_keyed(key, stranger, tsa), DIGEST, _keyed_policy(material), material)


def _timestamped_keyless(fake: FakeSigstore, tsa: Tsa, not_before: datetime) -> bytes:
    leaf = fake.issue(not_before=not_before)
    statement = cosign_sign.sign_statement(DIGEST)
    signature = leaf.key.sign(
        cosign_sign.dsse_pae(cosign_sign.IN_TOTO, statement), ec.ECDSA(hashes.SHA256())
    )
    return rekor_v2.bundle(
        statement,
        signature,
        material={"certificate": rekor_v2.cert_verifier(leaf.cert)["x509Certificate"]},
        tlog_entries=[],
        timestamps=[rekor_v2.timestamp_response(tsa, signature)],
    )


def test_timestamp_only_keyless_bundle_checks_the_certificate_at_that_time(
    fake: FakeSigstore, log: rekor_v2.FakeRekorV2, tsa: Tsa
) -> None:
    material = _material(fake, log, [tsa])
    policy = SignaturePolicy(
        keyless=(KeylessIdentity("https://issuer.test", "dev@example.test"),), material=material
    )
    now = datetime.now(UTC).replace(microsecond=0)
    fresh = _timestamped_keyless(fake, tsa, now - timedelta(minutes=1))
    assert verify_bundle(fresh, DIGEST, policy, material) == "https://issuer.test dev@example.test"
    expired = _timestamped_keyless(fake, tsa, now - timedelta(hours=1))
    with pytest.raises(SignatureRejected, match="does not chain to a Fulcio CA"):
        verify_bundle(expired, DIGEST, policy, material)


def test_timestamps_required_refuses_legacy_signatures(
    keyed: FixtureSignature, fake_root: TrustedRoot
) -> None:
    policy = SignaturePolicy(
        keys=(Path("k.pub"),), material=trust_material((), fake_root), timestamps="required"
    )
    assert policy.material is not None
    candidate = LegacySignature("tag", keyed.layer, keyed.payload)
    evidence = evaluate_signatures([candidate], DIGEST, policy, policy.material)
    assert not evidence.signers
    assert "no verified RFC 3161 timestamp" in evidence.problems[0]

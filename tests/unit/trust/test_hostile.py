"""Hostile artifacts: every one becomes a refusal reason, none an exception or a hang."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.oci.manifest import Descriptor
from gatekeeper.policy.model import KeylessIdentity, SignaturePolicy
from gatekeeper.trust import BundleSignature, Candidate, LegacySignature, evaluate_signatures
from gatekeeper.trust._decode import b64decode
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.keys import load_key_file, load_public_key
from gatekeeper.trust.material import TrustMaterial, trust_material
from gatekeeper.trust.trusted_root import TrustedRoot
from tests.helpers import cosign_sign
from tests.unit.trust.conftest import (
    COSIGN,
    FULCIO_ISSUER,
    FULCIO_SUBJECT,
    REKOR_DIGEST,
    FixtureSignature,
)

POLICY = SignaturePolicy(
    keys=(COSIGN / "cosign2.pub",), keyless=(KeylessIdentity(FULCIO_ISSUER, FULCIO_SUBJECT),)
)
BUNDLE_V03 = cosign_sign.BUNDLE_V03
SIGNER = ec.generate_private_key(ec.SECP256R1())


def _layer(payload: bytes, annotations: dict[str, str], digest: str | None = None) -> Descriptor:
    return Descriptor(
        cosign_sign.SIMPLE_SIGNING,
        digest or cosign_sign.sha256_digest(payload),
        len(payload),
        annotations=annotations,
    )


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _set_numbers(sig: FixtureSignature, **payload: object) -> LegacySignature:
    bundle = json.loads(sig.annotations["dev.sigstore.cosign/bundle"])
    bundle["Payload"].update(payload)
    fixed = sig.with_annotations(bundle=json.dumps(bundle))
    return LegacySignature("hostile", fixed.layer, fixed.payload)


def _statement_bundle(statement: bytes) -> BundleSignature:
    return BundleSignature("hostile", cosign_sign.dsse_bundle(SIGNER, statement))


Case = Callable[[FixtureSignature, FixtureSignature], Candidate]

CASES: dict[str, tuple[Case, str]] = {
    "payload over 128 KiB": (
        lambda k, _: LegacySignature("hostile", _layer(b" " * 200_000, {}), b" " * 200_000),
        "payload is larger than 131072 bytes",
    ),
    "payload descriptor claims 1 GiB (blob not fetched)": (
        lambda k, _: LegacySignature(
            "hostile",
            Descriptor(cosign_sign.SIMPLE_SIGNING, k.layer.digest, 1 << 30, annotations={}),
            b"",
        ),
        "payload is larger than 131072 bytes",
    ),
    "payload nested 100k deep": (
        lambda k, _: LegacySignature("hostile", _layer(_nested(50_000), {}), _nested(50_000)),
        "signature payload is not valid JSON",
    ),
    "layer digest not a digest": (
        lambda k, _: LegacySignature(
            "hostile", _layer(k.payload, k.annotations, "sha256:xyz"), k.payload
        ),
        "layer digest 'sha256:xyz' is invalid",
    ),
    "signature annotation of 1 MiB": (
        lambda k, _: _with(k, signature="A" * (1 << 20)),
        "signature annotation is larger than",
    ),
    "signature base64 garbage": (lambda k, _: _with(k, signature="@@@@"), "not valid base64"),
    "certificate garbage": (
        lambda _, kl: _with(
            kl, certificate="-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"
        ),
        "certificate annotation is not a valid PEM certificate",
    ),
    "certificate of 1 MiB": (
        lambda _, kl: _with(kl, certificate="A" * (1 << 20)),
        "certificate annotation is larger than",
    ),
    "chain of 1000 certificates": (
        lambda _, kl: _with(kl, chain=kl.annotations["dev.sigstore.cosign/chain"] * 500),
        "chain annotation is larger than",
    ),
    "Rekor bundle nested deep": (
        lambda _, kl: _with(kl, bundle=_nested(30_000).decode()),
        "Rekor bundle is not valid JSON",
    ),
    "integratedTime beyond 2^53": (
        lambda _, kl: _set_numbers(kl, integratedTime=2**64),
        "integratedTime is not a valid log number",
    ),
    "logIndex negative": (
        lambda _, kl: _set_numbers(kl, logIndex=-1),
        "logIndex is not a valid log number",
    ),
    "logID not hex": (
        lambda _, kl: _set_numbers(kl, logID="../../etc/passwd"),
        "logID is not a sha256 hex log id",
    ),
    "bundle over 1 MiB": (
        lambda *_: BundleSignature("hostile", b" " * (2 << 20)),
        "Sigstore bundle is larger than",
    ),
    "bundle nested deep": (
        lambda *_: BundleSignature("hostile", _nested(100_000)),
        "Sigstore bundle is not valid JSON",
    ),
    "bundle with duplicate keys": (
        lambda *_: BundleSignature("hostile", b'{"mediaType":"a","mediaType":"b"}'),
        "duplicate key",
    ),
    "envelope with 10k signatures": (
        lambda *_: BundleSignature(
            "hostile",
            json.dumps(
                {
                    "mediaType": BUNDLE_V03,
                    "verificationMaterial": {"publicKey": {"hint": ""}},
                    "dsseEnvelope": {
                        "payload": "",
                        "payloadType": cosign_sign.IN_TOTO,
                        "signatures": [{"sig": "AAAA"}] * 10_000,
                    },
                }
            ).encode(),
        ),
        "no or too many signatures",
    ),
    "statement with 5000 subjects": (
        lambda *_: _statement_bundle(
            json.dumps(
                {
                    "_type": "https://in-toto.io/Statement/v1",
                    "predicateType": cosign_sign.SIGN_PREDICATE,
                    "subject": [{}] * 5000,
                }
            ).encode()
        ),
        "more than 1024 subjects",
    ),
    "DSSE payload not base64": (
        lambda *_: BundleSignature(
            "hostile",
            json.dumps(
                {
                    "mediaType": BUNDLE_V03,
                    "verificationMaterial": {"publicKey": {}},
                    "dsseEnvelope": {"payload": "*", "payloadType": "x", "signatures": []},
                }
            ).encode(),
        ),
        "DSSE payload is not valid base64",
    ),
    "certificate bundle garbage for sigstore": (
        lambda *_: BundleSignature(
            "hostile",
            json.dumps(
                {
                    "mediaType": BUNDLE_V03,
                    "verificationMaterial": {
                        "certificate": {"rawBytes": "AAAA"},
                        "tlogEntries": [{"kindVersion": {"kind": "dsse", "version": "0.0.1"}}],
                    },
                    "dsseEnvelope": {},
                }
            ).encode(),
        ),
        "bundle does not verify: failed to load bundle",
    ),
    "certificate bundle without a log entry, garbage": (
        lambda *_: BundleSignature(
            "hostile",
            json.dumps(
                {
                    "mediaType": BUNDLE_V03,
                    "verificationMaterial": {
                        "certificate": {"rawBytes": "AAAA"},
                        "timestampVerificationData": {"rfc3161Timestamps": [{}]},
                    },
                    "dsseEnvelope": {"payloadType": "x", "payload": "", "signatures": [{}]},
                }
            ).encode(),
        ),
        "'sig' is missing",
    ),
}


def _with(sig: FixtureSignature, **changes: str) -> LegacySignature:
    changed = sig.with_annotations(**changes)
    return LegacySignature("hostile", changed.layer, changed.payload)


@pytest.fixture
def material(fixture_root: TrustedRoot) -> TrustMaterial:
    keys = (
        load_key_file(COSIGN / "cosign2.pub"),
        load_public_key(cosign_sign.public_key_pem(SIGNER), "signer"),
    )
    return trust_material(keys, fixture_root)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_a_reason(
    name: str,
    keyed_rekor: FixtureSignature,
    keyless: FixtureSignature,
    material: TrustMaterial,
) -> None:
    make, reason = CASES[name]
    evidence = evaluate_signatures([make(keyed_rekor, keyless)], REKOR_DIGEST, POLICY, material)
    assert evidence.signers == ()
    assert len(evidence.problems) == 1
    assert evidence.problems[0].startswith("hostile: ")
    assert "\n" not in evidence.problems[0]
    assert re.search(reason, evidence.problems[0]), evidence.problems[0]


def test_base64_length_is_checked_before_decoding() -> None:
    assert b64decode(base64.b64encode(b"x" * 30).decode(), "s", 30) == b"x" * 30
    with pytest.raises(SignatureRejected, match="larger than 30 bytes"):
        b64decode(base64.b64encode(b"x" * 33).decode(), "s", 30)

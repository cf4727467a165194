"""The cosign_sign test helper reproduces real cosign bytes, and its output verifies."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gatekeeper.oci.manifest import Descriptor, parse_manifest
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.cosign_legacy import verify_legacy_signature
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.keys import load_public_key
from gatekeeper.trust.material import TrustMaterial, trust_material
from gatekeeper.trust.trusted_root import TrustedRoot
from tests.helpers import cosign_sign
from tests.helpers.fake_sigstore import SIGNED_AT, FakeSigstore
from tests.unit.trust.conftest import COSIGN, REKOR_DIGEST, VALID_DIGEST, FixtureSignature

# A `cosign sign --key` push recorded with cosign v1.13.1 -d (github.com/jeffhuang4704/
# just-notes, cosign/cosign-traffic.md): config blob and manifest, with their digests.
RECORDED_PAYLOAD_DIGEST = "sha256:b671489ededd1a180bd87235bba00fd83354f9c7d13b71d9f8b66a8e52965ebc"
RECORDED_CREATED = "2023-02-17T09:25:33.91047962-08:00"
RECORDED_CONFIG_DIGEST = "sha256:85ad8e17d3d7c00664855c638832bd99f32d42542c2d587851410a45a7f60b95"
RECORDED_SIGNATURE = (
    "MEYCIQCPH7NJAIfrB6BZN91dV0o7l/i11muXrvrAh100jDMMhAIhAPsLH0oXb2OPITXRpWBMUd3vHtz5"
    "Ks5pql2Hr6t/IJXw"
)
RECORDED_MANIFEST_DIGEST = "sha256:7ebe8964225fa4619b53aa35416ef0246c037e36ddf81776b21b15e1dda2262b"


@pytest.mark.parametrize(
    ("fixture", "digest", "reference"),
    [
        ("keyed", VALID_DIGEST, "192.168.64.2:5000/cosign-signed-single-sample"),
        ("keyed_rekor", REKOR_DIGEST, "192.168.64.2:5000/cosign-signed/key-1"),
        ("keyless", REKOR_DIGEST, "192.168.64.2:5000/cosign-signed/fulcio-rekor-1"),
    ],
)
def test_payload_is_byte_identical_to_cosigns(
    request: pytest.FixtureRequest, fixture: str, digest: str, reference: str
) -> None:
    real: FixtureSignature = request.getfixturevalue(fixture)
    assert cosign_sign.simple_signing_payload(digest, reference) == real.payload


def test_optional_annotations_are_sorted_like_a_go_map() -> None:
    payload = cosign_sign.simple_signing_payload(VALID_DIGEST, "r", {"z": "1", "a": "<&>"})
    assert payload.endswith(b'"optional":{"a":"\\u003c\\u0026\\u003e","z":"1"}}')


def test_config_and_manifest_are_byte_identical_to_a_recorded_push() -> None:
    config = cosign_sign.signature_config([RECORDED_PAYLOAD_DIGEST], RECORDED_CREATED)
    assert (len(config), cosign_sign.sha256_digest(config)) == (247, RECORDED_CONFIG_DIGEST)
    layer = {
        "mediaType": cosign_sign.SIMPLE_SIGNING,
        "size": 252,
        "digest": RECORDED_PAYLOAD_DIGEST,
        "annotations": {cosign_sign.SIGNATURE_ANNOTATION: RECORDED_SIGNATURE},
    }
    manifest = cosign_sign.manifest_json(config, [layer])
    assert cosign_sign.sha256_digest(manifest) == RECORDED_MANIFEST_DIGEST


@pytest.mark.parametrize(
    ("fixture", "verifier"), [("keyed_rekor", "cosign2.pub"), ("keyless", None)]
)
def test_rekor_body_and_bundle_annotation_match_cosigns(
    request: pytest.FixtureRequest, fixture: str, verifier: str | None
) -> None:
    real: FixtureSignature = request.getfixturevalue(fixture)
    annotation = real.annotations[cosign_sign.BUNDLE_ANNOTATION]
    bundle = json.loads(annotation)
    pem = (
        (COSIGN / verifier).read_bytes()
        if verifier
        else real.annotations["dev.sigstore.cosign/certificate"].encode()
    )
    signature = base64.b64decode(real.annotations[cosign_sign.SIGNATURE_ANNOTATION])
    body = cosign_sign.hashedrekord_body(real.payload, signature, pem)
    assert body == base64.b64decode(bundle["Payload"]["body"])
    assert cosign_sign.go_json(bundle) == annotation.encode()


def test_signature_tag() -> None:
    assert cosign_sign.signature_tag("sha256:abc") == "sha256-abc.sig"


KEYS: dict[str, Callable[[], cosign_sign.PrivateKey]] = {
    "ecdsa-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ecdsa-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa-3072": lambda: rsa.generate_private_key(65537, 3072),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}


def _material(key: cosign_sign.PrivateKey, root: TrustedRoot) -> TrustMaterial:
    return trust_material((load_public_key(cosign_sign.public_key_pem(key), "k"),), root)


def _verify(
    art: cosign_sign.SignatureManifest, digest: str, mat: TrustMaterial, tlog: str = "optional"
) -> str:
    manifest = parse_manifest(art.manifest)
    layer = manifest.layers[0]
    return verify_legacy_signature(
        layer, art.blobs[layer.digest], digest, SignaturePolicy(transparency_log=tlog), mat
    )


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_signed_image_artifact_verifies(kind: str, fake_root: TrustedRoot) -> None:
    key = KEYS[kind]()
    art = cosign_sign.sign_image(VALID_DIGEST, "registry.test/app", key)
    manifest = parse_manifest(art.manifest)
    assert manifest.config is not None
    assert json.loads(art.blobs[manifest.config.digest])["rootfs"]["diff_ids"] == [
        manifest.layers[0].digest
    ]
    assert _verify(art, VALID_DIGEST, _material(key, fake_root)).startswith("key ")


def test_tampered_artifacts_fail(fake_root: TrustedRoot) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    mat = _material(key, fake_root)
    art = cosign_sign.sign_image(VALID_DIGEST, "registry.test/app", key)
    with pytest.raises(SignatureRejected, match="signature is for"):
        _verify(art, REKOR_DIGEST, mat)
    other = cosign_sign.sign_image(
        VALID_DIGEST, "registry.test/app", ec.generate_private_key(ec.SECP256R1())
    )
    with pytest.raises(SignatureRejected, match="not by a trusted key"):
        _verify(other, VALID_DIGEST, mat)
    layer = parse_manifest(art.manifest).layers[0]
    forged = art.blobs[layer.digest].replace(b"registry.test", b"registry.evil")
    forged_layer = Descriptor(
        layer.media_type,
        cosign_sign.sha256_digest(forged),
        len(forged),
        annotations=layer.annotations,
    )
    with pytest.raises(SignatureRejected, match="not by a trusted key"):
        verify_legacy_signature(forged_layer, forged, VALID_DIGEST, SignaturePolicy(), mat)


def test_multi_signature_manifest_and_rekor_bundle(
    fake: FakeSigstore, fake_root: TrustedRoot
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    first = cosign_sign.sign_layer(VALID_DIGEST, "registry.test/app", key)
    signature = base64.b64decode(first.annotations[cosign_sign.SIGNATURE_ANNOTATION])
    body = cosign_sign.hashedrekord_body(first.payload, signature, cosign_sign.public_key_pem(key))
    logged = cosign_sign.SignatureLayer(
        first.payload,
        {
            **first.annotations,
            cosign_sign.BUNDLE_ANNOTATION: cosign_sign.rekor_bundle(
                fake.rekor_key, body, int(SIGNED_AT.timestamp())
            ),
        },
    )
    second = cosign_sign.sign_layer(VALID_DIGEST, "registry.test/app", key, optional={"by": "ci"})
    art = cosign_sign.signature_manifest([logged, second], datetime(2024, 1, 1, tzinfo=UTC))
    assert b'"created":"2024-01-01T00:00:00Z"' in art.config
    layers = parse_manifest(art.manifest).layers
    assert len(layers) == 2
    mat = _material(key, fake_root)
    pol = SignaturePolicy(transparency_log="required")
    assert verify_legacy_signature(layers[0], art.blobs[layers[0].digest], VALID_DIGEST, pol, mat)
    with pytest.raises(SignatureRejected, match="policy requires one"):
        verify_legacy_signature(layers[1], art.blobs[layers[1].digest], VALID_DIGEST, pol, mat)

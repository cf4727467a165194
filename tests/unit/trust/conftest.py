"""Fixtures for trust tests: the real cosign/sigstore fixtures and a private fake Sigstore."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.oci.digest import sha256_digest
from gatekeeper.oci.manifest import Descriptor
from gatekeeper.trust.trusted_root import TrustedRoot, load_trusted_root
from tests.helpers.fake_sigstore import FakeSigstore, trusted_root_json

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "trust"
COSIGN = ASSETS / "cosign"
SIGSTORE = ASSETS / "sigstore-python"

# What each containers/image fixture signs (sha256 of the manifest.json beside it).
VALID_DIGEST = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
REKOR_DIGEST = "sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a"
FULCIO_ISSUER = "https://github.com/login/oauth"
FULCIO_SUBJECT = "mitr@redhat.com"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_IDENTITY = (
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
)
STORAGE_PREFIX = b"\x00sigstore-json\n"  # containers/image's on-disk sigstore signature format


@dataclass(frozen=True)
class FixtureSignature:
    """A containers/image signature file as the layer + payload a registry would serve."""

    layer: Descriptor
    payload: bytes

    @property
    def annotations(self) -> dict[str, str]:
        return self.layer.annotations

    def with_annotations(self, **changes: str | None) -> FixtureSignature:
        """A copy with annotations replaced (keys use ``_`` for ``/``; None deletes)."""
        annotations = dict(self.layer.annotations)
        for key, value in changes.items():
            name = {
                "signature": "dev.cosignproject.cosign/signature",
                "certificate": "dev.sigstore.cosign/certificate",
                "chain": "dev.sigstore.cosign/chain",
                "bundle": "dev.sigstore.cosign/bundle",
            }[key]
            if value is None:
                annotations.pop(name, None)
            else:
                annotations[name] = value
        layer = Descriptor(
            self.layer.media_type, self.layer.digest, self.layer.size, annotations=annotations
        )
        return FixtureSignature(layer, self.payload)

    def with_payload(self, payload: bytes) -> FixtureSignature:
        """A copy with another payload, its descriptor updated to match (so only the
        signature can catch the change)."""
        layer = Descriptor(
            self.layer.media_type,
            sha256_digest(payload),
            len(payload),
            annotations=self.layer.annotations,
        )
        return FixtureSignature(layer, payload)


def load_fixture_signature(name: str) -> FixtureSignature:
    raw = (COSIGN / name / "signature-1").read_bytes()
    assert raw.startswith(STORAGE_PREFIX)
    doc = json.loads(raw[len(STORAGE_PREFIX) :])
    payload = base64.b64decode(doc["payload"])
    layer = Descriptor(
        doc["mimeType"], sha256_digest(payload), len(payload), annotations=doc["annotations"]
    )
    return FixtureSignature(layer, payload)


@pytest.fixture
def keyed() -> FixtureSignature:
    return load_fixture_signature("dir-img-cosign-valid")


@pytest.fixture
def keyed_rekor() -> FixtureSignature:
    return load_fixture_signature("dir-img-cosign-key-rekor-valid")


@pytest.fixture
def keyless() -> FixtureSignature:
    return load_fixture_signature("dir-img-cosign-fulcio-rekor-valid")


def _public_key(path: Path) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def fixture_trusted_root_bytes() -> bytes:
    """A trusted root made of the fixtures' Fulcio chain, Rekor key and CT log key."""
    chain = x509.load_pem_x509_certificates((COSIGN / "fulcio-chain").read_bytes())
    return trusted_root_json(
        chain, [_public_key(COSIGN / "rekor.pub")], [_public_key(COSIGN / "ctfe-2022.pub")]
    )


@pytest.fixture(scope="session")
def fixture_root() -> TrustedRoot:
    return load_trusted_root(fixture_trusted_root_bytes(), "test root (fixtures)")


@pytest.fixture(scope="session")
def fake() -> FakeSigstore:
    return FakeSigstore()


@pytest.fixture(scope="session")
def fake_root(fake: FakeSigstore) -> TrustedRoot:
    return load_trusted_root(fake.trusted_root(), "fake sigstore root")

"""Loading trusted public keys and verifying signatures the way cosign makes them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from gatekeeper.errors import GatekeeperError
from gatekeeper.trust.errors import TrustError
from gatekeeper.trust.keys import load_key_file, load_public_key
from tests.helpers.cosign_sign import PrivateKey, public_key_pem, sign
from tests.unit.trust.conftest import COSIGN

MESSAGE = b'{"critical":{}}'


def _pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


SUPPORTED: dict[str, Callable[[], PrivateKey]] = {
    "ecdsa-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ecdsa-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa-2048": lambda: rsa.generate_private_key(65537, 2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("kind", sorted(SUPPORTED))
def test_supported_key_verifies_its_own_signature_only(kind: str) -> None:
    private = SUPPORTED[kind]()
    key = load_public_key(public_key_pem(private), kind)
    signature = sign(private, MESSAGE)
    assert key.verify(signature, MESSAGE)
    assert not key.verify(signature, MESSAGE + b" ")
    other = load_public_key(public_key_pem(SUPPORTED[kind]()), "other")
    assert not other.verify(signature, MESSAGE)


def test_key_id_is_sha256_of_der_spki() -> None:
    key = load_public_key((COSIGN / "rekor.pub").read_bytes(), "rekor.pub")
    # Rekor names its production key by this log id (see the fixture SETs).
    assert key.key_id == "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
    assert key.short_id == "c0d23d6ad406973f"
    assert hashlib.sha256(key.der).hexdigest() == key.key_id


def test_der_input_loads_like_pem() -> None:
    pem = (COSIGN / "cosign.pub").read_bytes()
    der = serialization.load_pem_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert load_public_key(der, "der") == load_public_key(pem, "pem")


def test_p384_accepts_sha384_and_legacy_sha256_signatures() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    key = load_public_key(_pem(private), "p384")
    assert key.verify(private.sign(MESSAGE, ec.ECDSA(hashes.SHA384())), MESSAGE)
    assert key.verify(private.sign(MESSAGE, ec.ECDSA(hashes.SHA256())), MESSAGE)
    assert not key.verify(private.sign(MESSAGE, ec.ECDSA(hashes.SHA512())), MESSAGE)


def test_p256_refuses_a_sha384_signature() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    key = load_public_key(_pem(private), "p256")
    assert not key.verify(private.sign(MESSAGE, ec.ECDSA(hashes.SHA384())), MESSAGE)


def test_rsa_pss_is_not_cosigns_scheme() -> None:
    private = rsa.generate_private_key(65537, 2048)
    key = load_public_key(_pem(private), "rsa")
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    assert not key.verify(private.sign(MESSAGE, pss, hashes.SHA256()), MESSAGE)


@pytest.mark.parametrize("garbage", [b"", b"\x00\x01", b"not a key", b"\xff" * 500])
def test_garbage_signature_is_false_not_an_exception(garbage: bytes) -> None:
    for make in SUPPORTED.values():
        key = load_public_key(_pem(make()), "k")
        assert key.verify(garbage, MESSAGE) is False


REFUSED: dict[str, tuple[Callable[[], Any], str]] = {
    "ecdsa-p521": (lambda: ec.generate_private_key(ec.SECP521R1()), "curve secp521r1"),
    "rsa-1024": (
        lambda: rsa.generate_private_key(65537, 1024),  # noqa: S505 - must be refused
        "1024 bits is too small",
    ),
    "dsa": (lambda: dsa.generate_private_key(2048), "DSAPublicKey keys are not supported"),
    "ed448": (ed448.Ed448PrivateKey.generate, "Ed448PublicKey keys are not supported"),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_unsupported_key_types_are_refused_by_name(kind: str) -> None:
    make, reason = REFUSED[kind]
    with pytest.raises(TrustError, match=reason):
        load_public_key(_pem(make()), kind)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"\x30\x03\x02\x01\x00",
        (COSIGN / "fulcio-cert").read_bytes(),  # a certificate is not a public key
    ],
)
def test_non_keys_are_refused(data: bytes) -> None:
    with pytest.raises(TrustError, match="not a PEM or DER public key"):
        load_public_key(data, "bad.pub")


def test_key_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(TrustError, match=r"cannot read public key .*missing\.pub"):
        load_key_file(tmp_path / "missing.pub")
    big = tmp_path / "big.pub"
    big.write_bytes(b"x" * 70_000)
    with pytest.raises(TrustError, match="larger than"):
        load_key_file(big)
    assert issubclass(TrustError, GatekeeperError)


def test_key_file_loads() -> None:
    key = load_key_file(COSIGN / "cosign.pub")
    assert key.algorithm == "ECDSA secp256r1"
    assert key.source.endswith("cosign.pub")

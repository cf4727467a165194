"""Public keys gatekeeper trusts, and signature checks with them as cosign makes them.

Supported: ECDSA P-256 and P-384, RSA of 2048 bits or more, Ed25519. A key's id is the sha256
hex of its DER SubjectPublicKeyInfo (the same id Rekor and CT use for their log keys).

Hashes follow cosign (sigstore/sigstore ``signature.LoadVerifier`` and the key details of the
protobuf-specs ``PublicKeyDetails``): ECDSA P-256 signs SHA-256; ECDSA P-384 signs SHA-384 in
current cosign and SHA-256 in cosign before 2.5, so both are accepted; RSA is PKCS#1 v1.5 with
SHA-256; Ed25519 signs the message itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from gatekeeper.trust.errors import TrustError

VerifyingKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

SUPPORTED_KEYS = "ECDSA P-256/P-384, RSA >= 2048 bits, Ed25519"
MIN_RSA_BITS = 2048
MAX_KEY_FILE_BYTES = 64 * 1024

_EC_HASHES: dict[str, tuple[hashes.HashAlgorithm, ...]] = {
    "secp256r1": (hashes.SHA256(),),
    "secp384r1": (hashes.SHA384(), hashes.SHA256()),
}


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A verifying key, identified by the sha256 of its DER SubjectPublicKeyInfo."""

    key: VerifyingKey = field(compare=False, repr=False)
    der: bytes = field(repr=False)
    key_id: str = ""
    source: str = field(default="", compare=False)  # where it was loaded from, for messages

    @property
    def short_id(self) -> str:
        """The first 16 hex digits of the key id, for messages."""
        return self.key_id[:16]

    @property
    def algorithm(self) -> str:
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            return f"ECDSA {self.key.curve.name}"
        if isinstance(self.key, rsa.RSAPublicKey):
            return f"RSA-{self.key.key_size}"
        return "Ed25519"

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's signature over ``message``."""
        try:
            if isinstance(self.key, ed25519.Ed25519PublicKey):
                self.key.verify(signature, message)
                return True
            if isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
                return True
            return self._verify_ecdsa(self.key, signature, message)
        except (InvalidSignature, ValueError, UnsupportedAlgorithm):
            return False

    @staticmethod
    def _verify_ecdsa(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
        for algorithm in _EC_HASHES.get(key.curve.name, ()):
            try:
                key.verify(signature, message, ec.ECDSA(algorithm))
                return True
            except InvalidSignature:
                continue
        return False


def key_from_object(key: object, source: str) -> TrustedKey:
    """Wrap a ``cryptography`` public key, refusing unsupported types and sizes."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _EC_HASHES:
            raise TrustError(f"{source}: ECDSA curve {key.curve.name} is not supported")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise TrustError(f"{source}: RSA key of {key.key_size} bits is too small")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise TrustError(
            f"{source}: {type(key).__name__} keys are not supported ({SUPPORTED_KEYS})"
        )
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TrustedKey(key, der, hashlib.sha256(der).hexdigest(), source)


def load_public_key(data: bytes, source: str) -> TrustedKey:
    """Load a PEM (or DER) SubjectPublicKeyInfo; raise TrustError saying what is wrong."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TrustError(f"{source}: not a PEM or DER public key ({SUPPORTED_KEYS})") from exc
    return key_from_object(key, source)


def load_key_file(path: Path) -> TrustedKey:
    """Read and load a public key file (policy ``signatures.keys``)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise TrustError(f"cannot read public key {path}: {exc.strerror}") from exc
    if len(data) > MAX_KEY_FILE_BYTES:
        raise TrustError(f"public key file {path} is larger than {MAX_KEY_FILE_BYTES} bytes")
    return load_public_key(data, str(path))

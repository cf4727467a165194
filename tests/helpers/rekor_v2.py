"""A private Rekor v2 log and the bundles current Sigstore clients make with it, for tests.

Rekor v2 (rekor-tiles) returns no SET: a bundle carries an RFC 6962 inclusion proof, a C2SP
signed-note checkpoint (Ed25519, key hint = first 4 bytes of the log id) and, for a signing
time, an RFC 3161 timestamp over the signature. Entries are ``hashedrekord`` 0.0.2 over the
DSSE PAE (rekor-v2-spec §6.1.4), as cosign v3 and sigstore-python log them. Timestamps come from
``openssl ts`` (:mod:`tests.helpers.tsa`), an independent RFC 3161 implementation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.helpers import cosign_sign
from tests.helpers.tsa import Tsa, stamp

ORIGIN = "log2026.rekor.test"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _leaf(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two below n
    return _node(_root(leaves[:split]), _root(leaves[split:]))


def _path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 audit path of leaf ``index``, lowest level first."""
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*_path(index, leaves[:split]), _root(leaves[split:])]
    return [*_path(index - split, leaves[split:]), _root(leaves[:split])]


def timestamp_response(tsa: Tsa, signature: bytes) -> bytes:
    """A granted TimeStampResp (as bundles carry it) over ``signature``."""
    token = stamp(tsa, signature)
    content = bytes.fromhex("3003020100") + token  # PKIStatusInfo { granted }
    length = len(content)
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(encoded)]) + encoded + content


@dataclass
class FakeRekorV2:
    """One Rekor v2 shard: an Ed25519 log key, its log id and a tree of random leaves."""

    key: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)
    origin: str = ORIGIN

    @property
    def raw_public_key(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def log_id(self) -> bytes:
        # C2SP signed-note key id for Ed25519: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
        return hashlib.sha256(self.origin.encode() + b"\n\x01" + self.raw_public_key).digest()

    def tlog_json(self, start: str = "2020-01-01T00:00:00Z") -> dict[str, Any]:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "baseUrl": f"https://{self.origin}",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": _b64(der),
                "keyDetails": "PKIX_ED25519",
                "validFor": {"start": start},
            },
            "logId": {"keyId": _b64(self.log_id)},
        }

    def checkpoint(
        self, size: int, root: bytes, *, signer: ed25519.Ed25519PrivateKey | None = None
    ) -> str:
        note = f"{self.origin}\n{size}\n{_b64(root)}\n"
        signature = (signer or self.key).sign(note.encode())
        return f"{note}\n\u2014 {self.origin} {_b64(self.log_id[:4] + signature)}\n"

    def entry(
        self,
        body: bytes,
        *,
        index: int = 5,
        size: int = 11,
        proven_body: bytes | None = None,
        checkpoint_signer: ed25519.Ed25519PrivateKey | None = None,
    ) -> dict[str, Any]:
        """A ``tlogEntries[]`` item for ``body``; ``proven_body``: prove another leaf."""
        leaves = [_leaf(os.urandom(16)) for _ in range(size)]
        leaves[index] = _leaf(proven_body if proven_body is not None else body)
        root = _root(leaves)
        kind = json.loads(body)
        return {
            "logIndex": str(index),
            "logId": {"keyId": _b64(self.log_id)},
            "kindVersion": {"kind": kind["kind"], "version": kind["apiVersion"]},
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": _b64(root),
                "treeSize": str(size),
                "hashes": [_b64(h) for h in _path(index, leaves)],
                "checkpoint": {"envelope": self.checkpoint(size, root, signer=checkpoint_signer)},
            },
            "canonicalizedBody": _b64(body),
        }


def hashedrekord_v2_body(pae: bytes, signature: bytes, verifier: dict[str, Any]) -> bytes:
    """A Rekor v2 ``hashedrekord`` 0.0.2 body logging a DSSE envelope (digest of its PAE)."""
    return json.dumps(
        {
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": {
                "hashedRekordV002": {
                    "data": {"algorithm": "SHA2_256", "digest": _b64(hashlib.sha256(pae).digest())},
                    "signature": {"content": _b64(signature), "verifier": verifier},
                }
            },
        },
        separators=(",", ":"),
    ).encode()


def key_verifier(key: cosign_sign.PrivateKey) -> dict[str, Any]:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"publicKey": {"rawBytes": _b64(der)}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}


def cert_verifier(cert: x509.Certificate) -> dict[str, Any]:
    der = cert.public_bytes(serialization.Encoding.DER)
    return {"x509Certificate": {"rawBytes": _b64(der)}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}


def bundle(
    statement: bytes,
    signature: bytes,
    *,
    material: dict[str, Any],
    tlog_entries: list[dict[str, Any]],
    timestamps: list[bytes] = (),  # type: ignore[assignment]
) -> bytes:
    """A Sigstore bundle v0.3 (DSSE) with the given verification material."""
    verification = {**material, "tlogEntries": tlog_entries}
    if timestamps:
        verification["timestampVerificationData"] = {
            "rfc3161Timestamps": [{"signedTimestamp": _b64(t)} for t in timestamps]
        }
    return json.dumps(
        {
            "mediaType": cosign_sign.BUNDLE_V03,
            "verificationMaterial": verification,
            "dsseEnvelope": {
                "payload": _b64(statement),
                "payloadType": cosign_sign.IN_TOTO,
                "signatures": [{"sig": _b64(signature), "keyid": ""}],
            },
        }
    ).encode()


def with_logs_and_tsas(
    trusted_root: bytes, logs: list[FakeRekorV2], tsas: list[Tsa], *, keep_tlogs: bool = True
) -> bytes:
    """``trusted_root`` plus Rekor v2 shards and TSAs (chain: signing certificate, root)."""
    doc = json.loads(trusted_root)
    doc["tlogs"] = (doc.get("tlogs", []) if keep_tlogs else []) + [log.tlog_json() for log in logs]
    doc["timestampAuthorities"] = [
        {
            "subject": {"organization": "test", "commonName": "tsa"},
            "uri": "https://tsa.test",
            "certChain": {
                "certificates": [
                    {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                    for c in (tsa.cert, tsa.root)
                ]
            },
            "validFor": {"start": "2020-01-01T00:00:00Z"},
        }
        for tsa in tsas
    ]
    return json.dumps(doc).encode()

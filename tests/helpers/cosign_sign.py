"""Make cosign-format signature artifacts with ``cryptography``, byte for byte as cosign does.

* :func:`sign_image` → the simple-signing payload, the ``.sig`` manifest, its config blob and
  the layer annotations, as ``cosign sign --key`` pushes them to ``sha256-<hex>.sig``
  (cosign ``pkg/oci/static`` + go-containerregistry ``mutate``; checked against the
  containers/image fixtures and a recorded cosign 1.13 push).
* :func:`signature_manifest` → one ``.sig`` manifest holding several signatures (cosign
  appends a layer per signature).
* :func:`rekor_bundle` → a ``dev.sigstore.cosign/bundle`` annotation whose SET is signed by a
  test "Rekor" key, over a ``hashedrekord`` body naming the signature.
* :func:`dsse_bundle` → a key-based Sigstore bundle v0.3 around a cosign v3 sign statement.

Go's ``encoding/json`` writes struct fields in declaration order, map keys sorted, no spaces,
and escapes ``<``, ``>``, ``&``, U+2028 and U+2029; :func:`go_json` does the same.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"
SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def go_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """JSON as Go's json.Marshal writes it (pass dicts in struct-field order)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def public_key_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(key: PrivateKey, message: bytes) -> bytes:
    """Sign as cosign does: ECDSA (DER) over SHA-256/384 by curve, RSA PKCS#1 v1.5, Ed25519."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
        return key.sign(message, ec.ECDSA(algorithm))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(message)


def simple_signing_payload(
    image_digest: str, docker_reference: str, optional: dict[str, Any] | None = None
) -> bytes:
    """cosign's payload (sigstore ``payload.SimpleContainerImage``); ``optional`` from ``-a``."""
    critical = {
        "identity": {"docker-reference": docker_reference},
        "image": {"docker-manifest-digest": image_digest},
        "type": "cosign container image signature",
    }
    # Critical is a struct (field order); Optional is a map (sorted keys).
    return b'{"critical":%s,"optional":%s}' % (
        go_json(critical),
        go_json(optional, sort_keys=True),
    )


@dataclass(frozen=True)
class SignatureLayer:
    """One signature: the payload blob and the annotations of its layer descriptor."""

    payload: bytes
    annotations: dict[str, str]

    @property
    def digest(self) -> str:
        return sha256_digest(self.payload)

    def descriptor(self) -> dict[str, Any]:
        return {
            "mediaType": SIMPLE_SIGNING,
            "size": len(self.payload),
            "digest": self.digest,
            "annotations": dict(sorted(self.annotations.items())),
        }


@dataclass(frozen=True)
class SignatureManifest:
    """A ``.sig`` manifest with its config blob and the payload blobs of its layers."""

    manifest: bytes
    config: bytes
    layers: tuple[SignatureLayer, ...]
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest → bytes (config + payloads)

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def signature_tag(image_digest: str) -> str:
    """``sha256:abc`` → ``sha256-abc.sig``, the tag cosign pushes signatures to."""
    return image_digest.replace(":", "-", 1) + ".sig"


def _go_time(moment: datetime) -> str:
    # time.RFC3339Nano: fractional seconds without trailing zeros, "Z" for UTC.
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def signature_config(diff_ids: list[str], created: str) -> bytes:
    """The config blob of a ``.sig`` image (go-containerregistry ``v1.ConfigFile``, empty
    fields omitted); ``created`` is the signing time as Go's RFC 3339 text."""
    return go_json(
        {
            "architecture": "",
            "created": created,
            "history": [{"created": GO_ZERO_TIME} for _ in diff_ids],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {},
        }
    )


def manifest_json(config: bytes, layers: list[dict[str, Any]]) -> bytes:
    """The OCI image manifest of a ``.sig`` image, given its config and layer descriptors."""
    return go_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "size": len(config),
                "digest": sha256_digest(config),
            },
            "layers": layers,
        }
    )


def signature_manifest(
    layers: list[SignatureLayer], created: datetime | None = None
) -> SignatureManifest:
    """The OCI manifest and config cosign pushes for ``layers`` (one per signature)."""
    config = signature_config(
        [layer.digest for layer in layers], _go_time(created or datetime.now(UTC))
    )
    manifest = manifest_json(config, [layer.descriptor() for layer in layers])
    blobs = {sha256_digest(config): config} | {layer.digest: layer.payload for layer in layers}
    return SignatureManifest(manifest, config, tuple(layers), blobs)


def sign_layer(
    image_digest: str,
    docker_reference: str,
    key: PrivateKey,
    *,
    optional: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> SignatureLayer:
    """One signature layer as ``cosign sign --key`` makes it (``annotations`` added)."""
    payload = simple_signing_payload(image_digest, docker_reference, optional)
    signature = base64.b64encode(sign(key, payload)).decode()
    return SignatureLayer(payload, {SIGNATURE_ANNOTATION: signature, **(annotations or {})})


def sign_image(
    image_digest: str,
    docker_reference: str,
    key: PrivateKey,
    *,
    created: datetime | None = None,
) -> SignatureManifest:
    """The whole ``sha256-<hex>.sig`` artifact for one keyed signature."""
    layer = sign_layer(image_digest, docker_reference, key)
    return signature_manifest([layer], created)


def hashedrekord_body(payload: bytes, signature: bytes, verifier_pem: bytes) -> bytes:
    """A Rekor hashedrekord 0.0.1 entry body as Rekor canonicalizes it."""
    return go_json(
        {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {
                    "hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}
                },
                "signature": {
                    "content": base64.b64encode(signature).decode(),
                    "publicKey": {"content": base64.b64encode(verifier_pem).decode()},
                },
            },
        }
    )


def log_id(rekor_key: PrivateKey) -> str:
    """A log's id: the sha256 hex of its public key's DER SubjectPublicKeyInfo."""
    der = rekor_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def signed_entry_timestamp(
    rekor_key: PrivateKey, body: bytes, integrated_time: int, log_index: int
) -> bytes:
    """Rekor's SET: a signature over the RFC 8785 JSON of the entry's payload."""
    canonical = json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "integratedTime": integrated_time,
            "logID": log_id(rekor_key),
            "logIndex": log_index,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return sign(rekor_key, canonical)


def rekor_bundle(
    rekor_key: PrivateKey, body: bytes, integrated_time: int, log_index: int = 1
) -> str:
    """cosign's ``dev.sigstore.cosign/bundle`` annotation (cosign ``bundle.RekorBundle``)."""
    set_ = signed_entry_timestamp(rekor_key, body, integrated_time, log_index)
    return go_json(
        {
            "SignedEntryTimestamp": base64.b64encode(set_).decode(),
            "Payload": {
                "body": base64.b64encode(body).decode(),
                "integratedTime": integrated_time,
                "logIndex": log_index,
                "logID": log_id(rekor_key),
            },
        }
    ).decode()


def sign_statement(image_digest: str, predicate_type: str = SIGN_PREDICATE) -> bytes:
    """cosign v3's in-toto statement for an image signature (subjects without ``name``)."""
    algorithm, _, hex_digest = image_digest.partition(":")
    return go_json(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"digest": {algorithm: hex_digest}}],
            "predicateType": predicate_type,
            "predicate": {},
        }
    )


def dsse_pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 " + b" ".join(
        (str(len(kind)).encode(), kind, str(len(payload)).encode(), payload)
    )


def dsse_bundle(
    key: PrivateKey,
    statement: bytes,
    *,
    tlog_entries: list[dict[str, Any]] | None = None,
    payload_type: str = IN_TOTO,
    signature: bytes | None = None,
) -> bytes:
    """A key-based Sigstore bundle v0.3 (publicKey hint, DSSE envelope) as protojson.

    Pass ``signature`` (from :func:`sign` over :func:`dsse_pae`) to log it first: ECDSA
    signatures are randomized, so signing again would not match the log entry.
    """
    signature = signature or sign(key, dsse_pae(payload_type, statement))
    hint = base64.b64encode(bytes.fromhex(log_id(key))).decode()
    return json.dumps(
        {
            "mediaType": BUNDLE_V03,
            "verificationMaterial": {
                "publicKey": {"hint": hint},
                "tlogEntries": tlog_entries or [],
            },
            "dsseEnvelope": {
                "payload": base64.b64encode(statement).decode(),
                "payloadType": payload_type,
                "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
            },
        }
    ).encode()


def dsse_entry_body(statement: bytes, signature: bytes, verifier_pem: bytes) -> bytes:
    """A Rekor dsse 0.0.1 entry body for a one-signature envelope.

    ``envelopeHash`` is a placeholder: Rekor hashes the envelope JSON it received, which no
    verifier can recompute (sigstore-python and gatekeeper check the payload hash and
    signatures only).
    """
    return go_json(
        {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": "0" * 64},
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(statement).hexdigest(),
                },
                "signatures": [
                    {
                        "signature": base64.b64encode(signature).decode(),
                        "verifier": base64.b64encode(verifier_pem).decode(),
                    }
                ],
            },
        }
    )


def bundle_tlog_entry(
    rekor_key: PrivateKey, body: bytes, integrated_time: int, log_index: int = 1
) -> dict[str, Any]:
    """A bundle ``tlogEntries[]`` item (protojson: int64 as strings) with a SET."""
    body_json = json.loads(body)
    set_ = signed_entry_timestamp(rekor_key, body, integrated_time, log_index)
    return {
        "logIndex": str(log_index),
        "logId": {"keyId": base64.b64encode(bytes.fromhex(log_id(rekor_key))).decode()},
        "kindVersion": {"kind": body_json["kind"], "version": body_json["apiVersion"]},
        "integratedTime": str(integrated_time),
        "inclusionPromise": {"signedEntryTimestamp": base64.b64encode(set_).decode()},
        "canonicalizedBody": base64.b64encode(body).decode(),
    }

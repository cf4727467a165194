"""Make cosign attestations with ``cryptography``, as ``cosign attest --type vuln`` does.

* :func:`vuln_statement` → the in-toto statement (cosign ``pkg/cosign/attestation``:
  ``GenerateStatement`` with ``CosignVulnPredicate``; Statement v0.1 header, a subject with
  ``name`` and ``digest``), JSON as Go's ``json.Marshal`` writes it: struct fields in order,
  the scanner ``result`` (an ``interface{}`` holding the report) with sorted keys.
* :func:`envelope` → the DSSE envelope cosign's wrapped signer returns (sigstore
  ``dsse.WrapSigner``: ``{"payloadType","payload","signatures":[{"keyid","sig"}]}``).
* :func:`keyed_layer` / :func:`keyless_layer` → one ``.att`` layer: the envelope blob and the
  annotations ``static.NewAttestation`` gives it (an empty ``dev.cosignproject.cosign/signature``,
  ``predicateType``, certificate/chain for keyless, ``dev.sigstore.cosign/bundle`` with a Rekor
  SET over an ``intoto`` 0.0.1 entry, or a ``dsse`` one as ``--rekor-entry-type dsse`` logs).
* :func:`attestation_manifest` + :func:`push_attestations` → the ``sha256-<hex>.att`` image.
* :func:`push_bundle_referrer` → a Sigstore bundle attached as cosign v3 attaches it, added to
  the referrers tag fallback index next to whatever it already lists.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization

from tests.helpers import cosign_sign
from tests.helpers.cosign_sign import PrivateKey, go_json, sha256_digest
from tests.helpers.fake_sigstore import SIGNED_AT, FakeSigstore, Leaf
from tests.helpers.images import OCI_INDEX, OCI_MANIFEST
from tests.helpers.registry_push import push_blob, push_manifest

DSSE = "application/vnd.dsse.envelope.v1+json"
VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def _go_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vuln_predicate(
    report: dict[str, Any],
    *,
    finished: datetime | None,
    started: datetime | None = None,
    scanner_uri: str = "https://github.com/aquasecurity/trivy",
    scanner_version: str = "0.50.1",
) -> dict[str, Any]:
    """A CosignVulnPredicate (fields in struct order); ``finished`` None → Go's zero time."""
    zero = cosign_sign.GO_ZERO_TIME
    return {
        "invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {
            "uri": scanner_uri,
            "version": scanner_version,
            "db": {"uri": "", "version": ""},
            "result": report,
        },
        "metadata": {
            "scanStartedOn": _go_time(started) if started else zero,
            "scanFinishedOn": _go_time(finished) if finished else zero,
        },
    }


def vuln_statement(
    image_digest: str,
    repository: str,
    predicate: dict[str, Any],
    predicate_type: str = VULN,
) -> bytes:
    """The statement ``cosign attest --type vuln`` signs for ``image_digest``."""
    algorithm, _, hex_digest = image_digest.partition(":")
    scanner = predicate["scanner"]
    return go_json(
        {
            "_type": STATEMENT_V01,
            "predicateType": predicate_type,
            "subject": [{"name": repository, "digest": {algorithm: hex_digest}}],
            # result is an interface{} holding a map: Go sorts its keys at every level.
            "predicate": {
                **predicate,
                "scanner": {**scanner, "result": _sorted(scanner["result"])},
            },
        }
    )


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def envelope(statement: bytes, key: PrivateKey) -> tuple[bytes, bytes]:
    """The DSSE envelope JSON and the raw signature in it."""
    signature = cosign_sign.sign(key, cosign_sign.dsse_pae(cosign_sign.IN_TOTO, statement))
    return envelope_with(statement, signature), signature


def envelope_with(statement: bytes, *signatures: bytes) -> bytes:
    """The envelope JSON around ``statement`` carrying ``signatures`` as given."""
    return go_json(
        {
            "payloadType": cosign_sign.IN_TOTO,
            "payload": base64.b64encode(statement).decode(),
            "signatures": [
                {"keyid": "", "sig": base64.b64encode(sig).decode()} for sig in signatures
            ],
        }
    )


def intoto_body(envelope_bytes: bytes, statement: bytes, verifier_pem: bytes) -> bytes:
    """A Rekor intoto 0.0.1 entry as Rekor canonicalizes it (what cosign attest logs)."""
    return go_json(
        {
            "apiVersion": "0.0.1",
            "kind": "intoto",
            "spec": {
                "content": {
                    "hash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(envelope_bytes).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(statement).hexdigest(),
                    },
                },
                "publicKey": base64.b64encode(verifier_pem).decode(),
            },
        }
    )


def intoto_v002_body(
    envelope_bytes: bytes, statement: bytes, signature: bytes, verifier_pem: bytes
) -> bytes:
    """A Rekor intoto 0.0.2 entry: the signature is base64 of the envelope's base64 ``sig``."""
    sig_text = base64.b64encode(signature)
    return go_json(
        {
            "apiVersion": "0.0.2",
            "kind": "intoto",
            "spec": {
                "content": {
                    "envelope": {
                        "payloadType": cosign_sign.IN_TOTO,
                        "signatures": [
                            {
                                "publicKey": base64.b64encode(verifier_pem).decode(),
                                "sig": base64.b64encode(sig_text).decode(),
                            }
                        ],
                    },
                    "hash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(envelope_bytes).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(statement).hexdigest(),
                    },
                }
            },
        }
    )


@dataclass(frozen=True)
class AttestationLayer:
    """One ``.att`` layer: the envelope blob and its descriptor's annotations."""

    envelope: bytes
    annotations: dict[str, str]

    @property
    def digest(self) -> str:
        return sha256_digest(self.envelope)

    def descriptor(self) -> dict[str, Any]:
        return {
            "mediaType": DSSE,
            "size": len(self.envelope),
            "digest": self.digest,
            "annotations": dict(sorted(self.annotations.items())),
        }


def _annotations(predicate_type: str, **extra: str) -> dict[str, str]:
    return {"dev.cosignproject.cosign/signature": "", "predicateType": predicate_type, **extra}


def keyed_layer(
    statement: bytes,
    key: PrivateKey,
    *,
    rekor_key: PrivateKey | None = None,
    entry: str = "intoto",
    integrated_time: int | None = None,
    predicate_type: str = VULN,
) -> AttestationLayer:
    """``cosign attest --key``; with ``rekor_key`` its Rekor SET over an ``entry`` body."""
    blob, signature = envelope(statement, key)
    extra: dict[str, str] = {}
    if rekor_key is not None:
        pem = cosign_sign.public_key_pem(key)
        body = (
            intoto_body(blob, statement, pem)
            if entry == "intoto"
            else cosign_sign.dsse_entry_body(statement, signature, pem)
        )
        when = integrated_time or int(SIGNED_AT.timestamp())
        extra["dev.sigstore.cosign/bundle"] = cosign_sign.rekor_bundle(rekor_key, body, when)
    return AttestationLayer(blob, _annotations(predicate_type, **extra))


def keyless_layer(
    sigstore: FakeSigstore,
    leaf: Leaf,
    statement: bytes,
    *,
    entry: str = "intoto",
    predicate_type: str = VULN,
) -> AttestationLayer:
    """``cosign attest`` keyless: certificate, chain and a Rekor SET over the envelope."""
    blob, signature = envelope(statement, leaf.key)
    body = (
        intoto_body(blob, statement, leaf.pem)
        if entry == "intoto"
        else cosign_sign.dsse_entry_body(statement, signature, leaf.pem)
    )
    chain = b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in (sigstore.intermediate, sigstore.root)
    )
    when = int(SIGNED_AT.timestamp())
    return AttestationLayer(
        blob,
        _annotations(
            predicate_type,
            **{
                "dev.sigstore.cosign/certificate": leaf.pem.decode(),
                "dev.sigstore.cosign/chain": chain.decode(),
                "dev.sigstore.cosign/bundle": cosign_sign.rekor_bundle(
                    sigstore.rekor_key, body, when
                ),
            },
        ),
    )


@dataclass(frozen=True)
class AttestationManifest:
    """The ``.att`` image: manifest, config and the blobs of its layers."""

    manifest: bytes
    layers: tuple[AttestationLayer, ...]
    blobs: dict[str, bytes] = field(default_factory=dict)


def attestation_manifest(
    layers: list[AttestationLayer], created: datetime | None = None
) -> AttestationManifest:
    """The OCI manifest cosign pushes for ``layers`` (one per attestation)."""
    moment = (created or datetime.now(UTC)).astimezone(UTC)
    config = cosign_sign.signature_config(
        [layer.digest for layer in layers], moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )
    manifest = cosign_sign.manifest_json(config, [layer.descriptor() for layer in layers])
    blobs = {sha256_digest(config): config} | {layer.digest: layer.envelope for layer in layers}
    return AttestationManifest(manifest, tuple(layers), blobs)


def attestation_tag(image_digest: str) -> str:
    """``sha256:abc`` → ``sha256-abc.att``."""
    return image_digest.replace(":", "-", 1) + ".att"


def push_attestations(base: str, repo: str, image_digest: str, art: AttestationManifest) -> None:
    """Push ``art`` to the tag cosign uses for attestations of ``image_digest``."""
    for data in art.blobs.values():
        push_blob(base, repo, data)
    push_manifest(
        base, repo, attestation_tag(image_digest), art.manifest, OCI_MANIFEST
    ).raise_for_status()


def push_bundle_referrer(
    base: str,
    repo: str,
    subject_digest: str,
    subject_size: int,
    bundle: bytes,
    predicate_type: str = VULN,
) -> str:
    """Attach ``bundle`` as cosign v3 does and add it to the ``sha256-<hex>`` fallback index."""
    empty = b"{}"
    push_blob(base, repo, empty)
    push_blob(base, repo, bundle)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": cosign_sign.BUNDLE_V03,
            "config": {"mediaType": EMPTY_CONFIG, "digest": sha256_digest(empty), "size": 2},
            "layers": [
                {
                    "mediaType": cosign_sign.BUNDLE_V03,
                    "digest": sha256_digest(bundle),
                    "size": len(bundle),
                }
            ],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size},
            "annotations": {"dev.sigstore.bundle.predicateType": predicate_type},
        }
    ).encode()
    digest = sha256_digest(manifest)
    push_manifest(base, repo, digest, manifest, OCI_MANIFEST).raise_for_status()
    fallback = subject_digest.replace(":", "-", 1)
    listed = requests.get(
        f"{base}/v2/{repo}/manifests/{fallback}", headers={"Accept": OCI_INDEX}, timeout=10
    )
    entries = listed.json()["manifests"] if listed.status_code == 200 else []
    entries.append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(manifest),
            "artifactType": cosign_sign.BUNDLE_V03,
            "annotations": {"dev.sigstore.bundle.predicateType": predicate_type},
        }
    )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    push_manifest(base, repo, fallback, index.encode(), OCI_INDEX).raise_for_status()
    return digest

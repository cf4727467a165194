"""Attach cosign-format signatures to images in a real registry (keyed, as cosign does)."""

from __future__ import annotations

import json

import requests

from tests.helpers import cosign_sign
from tests.helpers.cosign_sign import PrivateKey, SignatureManifest
from tests.helpers.images import OCI_INDEX, OCI_MANIFEST, sha256
from tests.helpers.registry_push import push_blob, push_manifest

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def push_signature(
    base: str,
    repo: str,
    subject_digest: str,
    sig: SignatureManifest,
    session: requests.Session | None = None,
) -> None:
    """Push a ``.sig`` artifact under the tag cosign uses for ``subject_digest``."""
    for data in sig.blobs.values():
        push_blob(base, repo, data, session)
    response = push_manifest(
        base, repo, cosign_sign.signature_tag(subject_digest), sig.manifest, OCI_MANIFEST, session
    )
    response.raise_for_status()


def sign_and_push(
    base: str,
    registry_host: str,
    repo: str,
    digest: str,
    key: PrivateKey,
    session: requests.Session | None = None,
) -> SignatureManifest:
    sig = cosign_sign.sign_image(digest, f"{registry_host}/{repo}", key)
    push_signature(base, repo, digest, sig, session)
    return sig


def push_bundle_referrer(
    base: str, repo: str, subject_digest: str, subject_size: int, subject_type: str, bundle: bytes
) -> str:
    """Attach a Sigstore bundle as cosign v3 does, and update the referrers tag fallback
    (``sha256-<hex>``) as clients must where the registry has no referrers API."""
    empty = b"{}"
    push_blob(base, repo, empty)
    push_blob(base, repo, bundle)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": BUNDLE_TYPE,
            "config": {"mediaType": EMPTY_CONFIG, "digest": sha256(empty), "size": len(empty)},
            "layers": [{"mediaType": BUNDLE_TYPE, "digest": sha256(bundle), "size": len(bundle)}],
            "subject": {"mediaType": subject_type, "digest": subject_digest, "size": subject_size},
            "annotations": {"dev.sigstore.bundle.predicateType": cosign_sign.SIGN_PREDICATE},
        }
    ).encode()
    digest = sha256(manifest)
    push_manifest(base, repo, digest, manifest, OCI_MANIFEST).raise_for_status()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": len(manifest),
                    "artifactType": BUNDLE_TYPE,
                }
            ],
        }
    ).encode()
    fallback = subject_digest.replace(":", "-", 1)
    push_manifest(base, repo, fallback, index, OCI_INDEX).raise_for_status()
    return digest

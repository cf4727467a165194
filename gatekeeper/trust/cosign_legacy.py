"""cosign's legacy signatures: one layer of the ``sha256-<hex>.sig`` manifest, verified offline.

The layer blob is a simple-signing payload (containers/image ``docs/containers-signature.5``,
cosign ``pkg/cosign/payload``)::

    {"critical": {"identity": {"docker-reference": "…"},
                  "image": {"docker-manifest-digest": "sha256:…"},
                  "type": "cosign container image signature"},
     "optional": null | {…}}

and the layer annotations carry the rest (cosign ``pkg/oci/static``):
``dev.cosignproject.cosign/signature`` (base64 signature over the payload bytes);
``dev.sigstore.cosign/certificate`` and ``…/chain`` (PEM, keyless);
``dev.sigstore.cosign/bundle`` (Rekor SET + entry, see :mod:`gatekeeper.trust.rekor`).

Keyed signatures verify with a trusted key; a SET, when present, must verify and name the same
signature, payload and key. Keyless signatures need a valid SET, because its integratedTime is
the only trustworthy moment at which to check the ten-minute Fulcio certificate.
"""

from __future__ import annotations

from cryptography import x509

from gatekeeper.errors import DigestInvalid
from gatekeeper.oci.digest import matches
from gatekeeper.oci.manifest import Descriptor
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust._decode import b64decode, json_object, member, pem_certificates
from gatekeeper.trust.certs import verify_chain
from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.identity import match_identity
from gatekeeper.trust.keys import TrustedKey, key_from_object
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial
from gatekeeper.trust.rekor import (
    LogEntry,
    certificate_der,
    check_entry_matches,
    parse_cosign_bundle,
    parse_entry_body,
    verify_set,
)
from gatekeeper.trust.sct import verify_embedded_sct

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_SIGNATURE_TYPE = "cosign container image signature"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"


def verify_legacy_signature(
    layer: Descriptor,
    payload: bytes,
    image_digest: str,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits = DEFAULT_LIMITS,
) -> str:
    """Return the signer (``key <id>`` or ``<issuer> <subject>``) or raise SignatureRejected.

    ``layer`` is the ``.sig`` manifest's layer descriptor (with its annotations) and
    ``payload`` the blob fetched for it; ``image_digest`` is the digest being admitted.
    """
    check_layer(layer, payload, limits)
    check_simple_signing(payload, image_digest, limits)
    annotations = layer.annotations
    if SIGNATURE_ANNOTATION not in annotations:
        raise SignatureRejected(f"layer has no {SIGNATURE_ANNOTATION} annotation")
    signature = b64decode(
        annotations[SIGNATURE_ANNOTATION], "signature annotation", limits.max_annotation_bytes
    )
    entry = None
    if BUNDLE_ANNOTATION in annotations:
        entry = parse_cosign_bundle(annotations[BUNDLE_ANNOTATION], limits)
    key = _trusted_key(signature, payload, material.keys)
    if key is not None:
        _check_keyed_log(entry, key, payload, signature, policy, material, limits)
        return f"key {key.short_id}"
    if CERTIFICATE_ANNOTATION in annotations and policy.keyless:
        return _verify_keyless(annotations, payload, signature, entry, policy, material, limits)
    raise SignatureRejected(
        untrusted_reason(CERTIFICATE_ANNOTATION in annotations, policy, material)
    )


def check_layer(layer: Descriptor, payload: bytes, limits: TrustLimits) -> None:
    """The blob is a simple-signing payload of bounded size that matches its descriptor."""
    check_blob(layer, payload, SIMPLE_SIGNING_MEDIA_TYPE, "a signature", limits.max_payload_bytes)


def check_blob(layer: Descriptor, blob: bytes, media_type: str, kind: str, max_bytes: int) -> None:
    """The layer has ``media_type`` (``kind`` names it) and ``blob`` is its bounded content."""
    if layer.media_type != media_type:
        raise SignatureRejected(f"layer media type {layer.media_type[:80]!r} is not {kind}")
    # The descriptor's size first: a gatherer may skip downloading a blob that claims to be
    # too large, and the refusal should say so rather than report a size mismatch.
    if max(layer.size, len(blob)) > max_bytes:
        raise SignatureRejected(f"payload is larger than {max_bytes} bytes")
    if len(blob) != layer.size:
        raise SignatureRejected(f"payload is {len(blob)} bytes, its descriptor says {layer.size}")
    try:
        matched = matches(layer.digest, blob)
    except (DigestInvalid, ValueError) as exc:
        raise SignatureRejected(f"layer digest {layer.digest[:80]!r} is invalid") from exc
    if not matched:
        raise SignatureRejected(f"payload does not match its descriptor digest {layer.digest}")


def check_simple_signing(payload: bytes, image_digest: str, limits: TrustLimits) -> None:
    """The payload is a cosign image signature for ``image_digest``."""
    doc = json_object(payload, "signature payload", limits.max_payload_bytes)
    critical = member(doc, "critical", dict, "signature payload")
    kind = member(critical, "type", str, "signature payload critical")
    if kind != COSIGN_SIGNATURE_TYPE:
        raise SignatureRejected(f"payload type {kind[:80]!r} is not {COSIGN_SIGNATURE_TYPE!r}")
    image = member(critical, "image", dict, "signature payload critical")
    signed = member(image, "docker-manifest-digest", str, "signature payload critical.image")
    if signed != image_digest:
        raise SignatureRejected(f"signature is for {signed[:80]} not {image_digest}")


def _trusted_key(
    signature: bytes, payload: bytes, keys: tuple[TrustedKey, ...]
) -> TrustedKey | None:
    return next((key for key in keys if key.verify(signature, payload)), None)


def untrusted_reason(
    has_certificate: bool, policy: SignaturePolicy, material: TrustMaterial
) -> str:
    """Why no trusted key or identity made a signature, for the refusal."""
    if not has_certificate and not material.keys:
        return "signature has no certificate, and the policy names no keys"
    if has_certificate and not policy.keyless:
        return (
            "signed with a certificate, but the policy names no keyless identities "
            f"(and no trusted key made it; key ids: {material.key_ids})"
        )
    return f"signed, but not by a trusted key (key ids: {material.key_ids})"


def _check_keyed_log(
    entry: LogEntry | None,
    key: TrustedKey,
    payload: bytes,
    signature: bytes,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits,
) -> None:
    verified = checked_set(entry, policy, material, "signature")
    if verified is not None:
        _check_entry(verified, payload, signature, key.der, limits)


def checked_set(
    entry: LogEntry | None, policy: SignaturePolicy, material: TrustMaterial, what: str
) -> LogEntry | None:
    """The Rekor entry with its SET verified, for the caller to match; None when absent.

    No entry: fine unless the policy requires the transparency log. An entry that is
    present must verify even when the log is optional: a forged one is an attack.
    """
    if entry is None:
        if policy.transparency_log != "optional":
            raise SignatureRejected(f"{what} has no Rekor SET; the policy requires one")
        return None
    verify_set(entry, material.root)
    return entry


def _check_entry(
    entry: LogEntry, payload: bytes, signature: bytes, verifier: bytes, limits: TrustLimits
) -> None:
    claims = parse_entry_body(entry, limits)
    if claims.kind == "dsse":
        raise SignatureRejected("Rekor entry is a DSSE envelope, not this signature")
    check_entry_matches(claims, payload=payload, signature=signature, verifier=verifier)


def _certificates(
    annotations: dict[str, str], limits: TrustLimits
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    leaf = pem_certificates(
        annotations[CERTIFICATE_ANNOTATION], "certificate annotation", 16 * 1024, 1
    )
    chain: list[x509.Certificate] = []
    if CHAIN_ANNOTATION in annotations:
        chain = pem_certificates(
            annotations[CHAIN_ANNOTATION],
            "chain annotation",
            limits.max_annotation_bytes,
            limits.max_chain_certificates,
        )
    return leaf[0], chain


def _verify_keyless(
    annotations: dict[str, str],
    payload: bytes,
    signature: bytes,
    entry: LogEntry | None,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits,
) -> str:
    signer, cert_key, cert_der, entry = verify_certificate(
        annotations, entry, policy, material, limits
    )
    if not cert_key.verify(signature, payload):
        raise SignatureRejected("signature does not verify with the certificate's key")
    _check_entry(entry, payload, signature, cert_der, limits)
    return signer


def verify_certificate(
    annotations: dict[str, str],
    entry: LogEntry | None,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits,
) -> tuple[str, TrustedKey, bytes, LogEntry]:
    """A keyless layer's certificate, checked at its Rekor entry's time.

    Verifies the SET, chains the ``certificate`` annotation (helped by ``chain``) to a Fulcio
    CA valid at integratedTime, checks the embedded SCT and the policy's identities. Returns
    the signer, the certificate's key and DER, and the entry; the caller checks that the key
    made its signature and that the entry names it.
    """
    if entry is None:
        raise SignatureRejected(
            "keyless signature has no Rekor SET, so its certificate cannot be checked "
            "at signing time"
        )
    verify_set(entry, material.root)
    leaf, untrusted = _certificates(annotations, limits)
    chain = verify_chain(
        leaf, untrusted, material.root, entry.integrated_at, limits.max_chain_certificates
    )
    if not chain:
        raise SignatureRejected("certificate is itself a trust anchor, not a Fulcio leaf")
    verify_embedded_sct(leaf, chain[0], material.root)
    signer = match_identity(leaf, policy.keyless)
    try:
        cert_key = key_from_object(leaf.public_key(), "certificate key")
    except (TrustError, ValueError) as exc:
        raise SignatureRejected(str(exc)) from exc
    return signer, cert_key, certificate_der(leaf), entry

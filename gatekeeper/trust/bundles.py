"""Sigstore bundles (v0.1 to v0.3) that sign an image: cosign v3's default signature format.

cosign v3 signs an image as a DSSE envelope around an in-toto statement whose predicate type
is ``https://sigstore.dev/cosign/sign/v1`` and whose subject carries the image digest, and
attaches the bundle as an OCI referrer (artifactType
``application/vnd.dev.sigstore.bundle.v0.3+json``).

* Keyless bundles (a Fulcio certificate) are verified by sigstore-python's ``Verifier`` against
  the policy's trusted root: chain at the log's time, SCT, inclusion proof/promise, DSSE
  signature, log-entry consistency, and identity through :class:`IdentityPolicy`.
* Keyless bundles whose log entry is Rekor ``intoto`` (npm provenance, GitHub's earlier
  attestations) are refused by sigstore-python outright and verified by
  :mod:`gatekeeper.trust.intoto_bundles` instead.
* Keyless bundles without any log entry, dated by RFC 3161 timestamps alone (GitHub's own
  Sigstore instance, private repositories), are refused by sigstore-python ("expected exactly
  one log entry") and verified by :mod:`gatekeeper.trust.timestamped_bundles`.
* Key-based bundles (``publicKey`` hint, no certificate) are not supported by sigstore-python;
  the DSSE signature is checked here against the trusted keys, and every log entry (Rekor v1
  SET, Rekor v2 inclusion proof + checkpoint) and timestamp present must verify and name the
  same signature and key (:mod:`gatekeeper.trust.bundle_log`).
* ``messageSignature`` bundles sign a blob's digest, not a statement about an image: refused.

The statement is parsed here, not by sigstore's ``dsse.Statement``: real cosign v3 subjects
have no ``name``, which that model requires. :func:`open_bundle` and :func:`check_statement`
with another predicate type serve attestation bundles too (:mod:`gatekeeper.trust.attestations`).
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from sigstore.errors import Error as SigstoreError
from sigstore.models import Bundle
from sigstore.verify import Verifier

from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust._decode import b64decode, json_object, member
from gatekeeper.trust.bundle_log import check_keyed_log
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.identity import IdentityPolicy, match_identity
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial
from gatekeeper.trust.timestamps import verify_timestamps

BUNDLE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
)
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = frozenset(
    {"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"}
)
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"


def verify_bundle(
    bundle: bytes,
    image_digest: str,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits = DEFAULT_LIMITS,
) -> str:
    """Return the signer (``key <id>`` or ``<issuer> <subject>``) or raise SignatureRejected."""
    signer, payload_type, payload = open_bundle(bundle, policy, material, limits)
    check_statement(payload_type, payload, image_digest, limits)
    return signer


def open_bundle(
    bundle: bytes, policy: SignaturePolicy, material: TrustMaterial, limits: TrustLimits
) -> tuple[str, str, bytes]:
    """Verify a DSSE bundle's signature and log entry: (signer, payload type, payload).

    The payload is not interpreted here; :func:`check_statement` reads it.
    """
    # Imported here: intoto_bundles builds on dsse_pae from this module.
    from gatekeeper.trust.intoto_bundles import logged_as_intoto, verify_keyless_intoto
    from gatekeeper.trust.timestamped_bundles import verify_keyless_timestamped

    if not bundle:  # what a gatherer passes for a bundle it declined to download
        raise SignatureRejected(
            f"bundle is empty (not fetched, or larger than {limits.max_bundle_bytes} bytes)"
        )
    doc = json_object(bundle, "Sigstore bundle", limits.max_bundle_bytes)
    media_type = member(doc, "mediaType", str, "Sigstore bundle")
    if media_type not in BUNDLE_MEDIA_TYPES:
        raise SignatureRejected(f"bundle media type {media_type[:80]!r} is not supported")
    if "messageSignature" in doc:
        raise SignatureRejected(
            "bundle signs a blob (messageSignature), not an image: cosign signs images "
            "with a DSSE statement"
        )
    envelope = member(doc, "dsseEnvelope", dict, "Sigstore bundle")
    material_doc = member(doc, "verificationMaterial", dict, "Sigstore bundle")
    if "publicKey" in material_doc:
        signer, payload_type, payload = _verify_keyed(
            envelope, material_doc, policy, material, limits
        )
    elif "certificate" in material_doc or "x509CertificateChain" in material_doc:
        if not material_doc.get("tlogEntries"):
            # sigstore-python requires exactly one log entry: see timestamped_bundles.
            return verify_keyless_timestamped(doc, policy, material, limits)
        if logged_as_intoto(material_doc):
            # sigstore-python refuses intoto log entries outright: see intoto_bundles.
            return verify_keyless_intoto(doc, policy, material, limits)
        signer, payload_type, payload = _verify_keyless(bundle, policy, material)
        if policy.timestamps == "required":
            # sigstore-python verified any timestamps but does not say whether one was there.
            _require_timestamp(material_doc, envelope, material, limits)
    else:
        raise SignatureRejected("bundle has neither a public key hint nor a certificate")
    return signer, payload_type, payload


def dsse_pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the envelope's signatures sign."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def check_statement(
    payload_type: str,
    payload: bytes,
    image_digest: str,
    limits: TrustLimits,
    predicate_type: str | frozenset[str] = COSIGN_SIGN_PREDICATE,
) -> dict[str, Any]:
    """The payload is an in-toto statement of ``predicate_type`` about ``image_digest``.

    ``predicate_type`` may be a set of equivalent types (OpenVEX has two in use).

    Returns the parsed statement. The default predicate is cosign's image signature; an
    attestation names its own.
    """
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise SignatureRejected(f"DSSE payload type {payload_type[:80]!r} is not in-toto")
    statement = json_object(payload, "in-toto statement", limits.max_payload_bytes)
    if statement.get("_type") not in STATEMENT_TYPES:
        raise SignatureRejected("DSSE payload is not an in-toto statement")
    predicate = member(statement, "predicateType", str, "in-toto statement")
    signing = predicate_type == COSIGN_SIGN_PREDICATE
    accepted = {predicate_type} if isinstance(predicate_type, str) else predicate_type
    if predicate not in accepted:
        raise SignatureRejected(
            f"bundle is a {predicate[:80]!r} attestation, not a cosign image signature"
            if signing
            else f"attestation predicate is {predicate[:80]!r}, not {_named(accepted)}"
        )
    subjects = member(statement, "subject", list, "in-toto statement")
    if len(subjects) > limits.max_subjects:
        raise SignatureRejected(f"statement has more than {limits.max_subjects} subjects")
    algorithm, _, hex_digest = image_digest.partition(":")
    named = [_subject_digest(subject, algorithm) for subject in subjects]
    if hex_digest not in named:
        shown = ", ".join(f"{algorithm}:{value}" for value in named[:3] if value) or "nothing"
        what = "signature" if signing else "attestation"
        raise SignatureRejected(f"{what} is for {shown[:200]} not {image_digest}")
    return statement


def _named(accepted: set[str] | frozenset[str]) -> str:
    return " or ".join(repr(item) for item in sorted(accepted))


def _subject_digest(subject: Any, algorithm: str) -> str | None:
    digest = subject.get("digest") if isinstance(subject, dict) else None
    value = digest.get(algorithm) if isinstance(digest, dict) else None
    return value if isinstance(value, str) else None


def _verify_keyless(
    bundle: bytes, policy: SignaturePolicy, material: TrustMaterial
) -> tuple[str, str, bytes]:
    if not policy.keyless:
        raise SignatureRejected(
            "bundle is signed with a certificate, but the policy names no keyless identities"
        )
    try:
        parsed = Bundle.from_json(bundle)
        verifier = Verifier(trusted_root=material.root.sigstore)
        payload_type, payload = verifier.verify_dsse(parsed, IdentityPolicy(policy.keyless))
        signer = match_identity(parsed.signing_certificate, policy.keyless)
    except SignatureRejected:
        raise
    except SigstoreError as exc:
        if isinstance(exc.__cause__, SignatureRejected):  # our identity policy's reason
            raise exc.__cause__ from exc
        raise SignatureRejected(f"bundle does not verify: {str(exc)[:200]}") from exc
    except (ValueError, TypeError, KeyError, InvalidSignature, UnsupportedAlgorithm) as exc:
        raise SignatureRejected(f"bundle is malformed: {str(exc)[:200]}") from exc
    return signer, payload_type, payload


def _verify_keyed(
    envelope: dict[str, Any],
    material_doc: dict[str, Any],
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits,
) -> tuple[str, str, bytes]:
    payload_type = member(envelope, "payloadType", str, "DSSE envelope")
    payload = b64decode(envelope.get("payload"), "DSSE payload", limits.max_payload_bytes)
    signatures = member(envelope, "signatures", list, "DSSE envelope")
    if not signatures or len(signatures) > limits.max_signatures:
        raise SignatureRejected("DSSE envelope has no or too many signatures")
    pae = dsse_pae(payload_type, payload)
    for item in signatures:
        signature = b64decode(member(item, "sig", str, "DSSE signature"), "DSSE signature", 4096)
        key = next((k for k in material.keys if k.verify(signature, pae)), None)
        if key is not None:
            check_keyed_log(
                material_doc,
                pae=pae,
                payload=payload,
                signature=signature,
                key=key,
                policy=policy,
                material=material,
                limits=limits,
            )
            return f"key {key.short_id}", payload_type, payload
    raise SignatureRejected(f"signed, but not by a trusted key (key ids: {material.key_ids})")


def _require_timestamp(
    material_doc: dict[str, Any],
    envelope: dict[str, Any],
    material: TrustMaterial,
    limits: TrustLimits,
) -> None:
    signatures = member(envelope, "signatures", list, "DSSE envelope")
    signature = b64decode(member(signatures[0], "sig", str, "DSSE signature"), "DSSE sig", 4096)
    if not verify_timestamps(material_doc, signature, material.root, limits):
        raise SignatureRejected("bundle has no RFC 3161 timestamp; the policy requires one")

"""Signed in-toto attestations about an image, verified offline: cosign ``.att`` layers and
Sigstore bundles. Returns the verified statement; what its predicate means is the caller's.

Where cosign puts them (cosign ``cmd/cosign/cli/attest`` + ``pkg/oci/static``):

* legacy: tag ``sha256-<hex>.att``, one layer per attestation with media type
  ``application/vnd.dsse.envelope.v1+json``; the blob is the DSSE envelope JSON
  (``payloadType`` ``application/vnd.in-toto+json``, base64 ``payload`` = the in-toto
  statement, ``signatures[{keyid, sig}]`` over the DSSE PAE). The layer annotations are those
  of a ``.sig`` layer with an empty ``dev.cosignproject.cosign/signature``, plus
  ``predicateType``; a keyless one carries ``dev.sigstore.cosign/certificate`` and ``…/chain``;
  ``dev.sigstore.cosign/bundle`` holds a Rekor SET over an ``intoto`` or ``dsse`` entry;
* cosign v3: a Sigstore bundle (DSSE) attached as a referrer, checked exactly as an image
  signature bundle (:func:`gatekeeper.trust.bundles.open_bundle`).

Trust: one signature by a trusted key or keyless identity of the rule's ``signatures`` makes
an attestation count (``threshold`` counts independent image signers; it does not apply to
attestations). Keyless layers need their Rekor SET, as legacy keyless signatures do; a SET
present on a keyed layer must verify and name this envelope and key. The statement's subject
must name the image digest and its ``predicateType`` the one asked for. Sizes are bounded by
``TrustLimits.max_attestation_bytes``; every refusal is a :class:`SignatureRejected`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from gatekeeper.oci.manifest import Descriptor
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust._decode import b64decode, json_object, member
from gatekeeper.trust.bundles import check_statement, dsse_pae, open_bundle
from gatekeeper.trust.cosign_legacy import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    check_blob,
    checked_set,
    untrusted_reason,
    verify_certificate,
)
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.keys import TrustedKey
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial
from gatekeeper.trust.rekor import (
    LogEntry,
    check_dsse_entry,
    parse_cosign_bundle,
    parse_entry_body,
)
from gatekeeper.trust.verify import (
    Candidate,
    LegacySignature,
    attempt,
    bounded,
    problem_line,
    refuse_untimestamped,
    too_many,
    unique,
)

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
PREDICATE_ANNOTATION = "predicateType"  # cosign's (unsigned) hint on each .att layer


@dataclass(frozen=True, slots=True)
class VerifiedStatement:
    """An in-toto statement whose signature and subject were verified."""

    source: str  # where it was found, e.g. "tag sha256-<hex>.att"
    signer: str  # "key <id>" or "<issuer> <subject>"
    statement: dict[str, Any]  # the parsed statement
    payload: bytes  # the statement bytes exactly as signed


@dataclass(frozen=True, slots=True)
class AttestationEvidence:
    """Every verified statement found for one image, and why the others did not count."""

    statements: tuple[VerifiedStatement, ...]
    looked_at: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


def evaluate_attestations(
    candidates: Iterable[Candidate],
    image_digest: str,
    predicate_type: str | frozenset[str],
    policy: SignaturePolicy,
    material: TrustMaterial,
    *,
    looked_at: Sequence[str] = (),
    limits: TrustLimits = DEFAULT_LIMITS,
) -> AttestationEvidence:
    """Verify up to ``limits.max_candidates`` candidates (``.att`` layers and bundles)."""
    statements: list[VerifiedStatement] = []
    problems: list[str] = []
    places = list(looked_at)
    for examined, candidate in enumerate(candidates):
        if examined == limits.max_candidates:
            problems.append(too_many(limits, "attestations"))
            break
        places.append(candidate.source)
        verify = partial(
            verify_attestation, candidate, image_digest, predicate_type, policy, material, limits
        )
        statement, problem = attempt(verify)
        if problem is not None:
            problems.append(problem_line(candidate.source, problem, limits))
        elif statement is not None:
            statements.append(statement)
    return AttestationEvidence(
        tuple(statements), unique(places), bounded(problems, limits.max_problems)
    )


def verify_attestation(
    candidate: Candidate,
    image_digest: str,
    predicate_type: str | frozenset[str],
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits = DEFAULT_LIMITS,
) -> VerifiedStatement:
    """Verify one ``.att`` layer or attestation bundle; raise SignatureRejected if it fails."""
    if isinstance(candidate, LegacySignature):
        refuse_untimestamped(policy)
        signer, payload_type, payload = verify_dsse_layer(
            candidate.layer, candidate.payload, policy, material, limits
        )
    else:
        signer, payload_type, payload = open_bundle(
            candidate.bundle, policy, material, limits.for_attestations()
        )
    statement = check_statement(
        payload_type, payload, image_digest, limits.for_attestations(), predicate_type
    )
    return VerifiedStatement(candidate.source, signer, statement, payload)


def verify_dsse_layer(
    layer: Descriptor,
    envelope: bytes,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits = DEFAULT_LIMITS,
) -> tuple[str, str, bytes]:
    """Verify a ``.att`` layer's DSSE envelope: (signer, payload type, payload bytes).

    ``layer`` is the descriptor (with cosign's annotations), ``envelope`` its blob. The
    payload is not interpreted here.
    """
    max_bytes = limits.max_attestation_bytes
    check_blob(layer, envelope, DSSE_MEDIA_TYPE, "a DSSE envelope", max_bytes)
    doc = json_object(envelope, "DSSE envelope", max_bytes)
    payload_type = member(doc, "payloadType", str, "DSSE envelope")
    payload = b64decode(doc.get("payload"), "DSSE payload", max_bytes)
    signatures = _signatures(doc, limits)
    pae = dsse_pae(payload_type, payload)
    annotations = layer.annotations
    entry = None
    if BUNDLE_ANNOTATION in annotations:
        entry = parse_cosign_bundle(annotations[BUNDLE_ANNOTATION], limits)
    for signature in signatures:
        key = next((k for k in material.keys if k.verify(signature, pae)), None)
        if key is not None:
            _check_keyed_log(entry, key, envelope, payload, signature, policy, material, limits)
            return f"key {key.short_id}", payload_type, payload
    has_certificate = CERTIFICATE_ANNOTATION in annotations
    if not has_certificate or not policy.keyless:
        raise SignatureRejected(untrusted_reason(has_certificate, policy, material))
    signer, cert_key, cert_der, logged = verify_certificate(
        annotations, entry, policy, material, limits
    )
    made = next((s for s in signatures if cert_key.verify(s, pae)), None)
    if made is None:
        raise SignatureRejected("DSSE signature does not verify with the certificate's key")
    check_dsse_entry(
        parse_entry_body(logged, limits),
        envelope=envelope,
        payload=payload,
        signature=made,
        verifier=cert_der,
    )
    return signer, payload_type, payload


def _signatures(doc: dict[str, Any], limits: TrustLimits) -> list[bytes]:
    raw = member(doc, "signatures", list, "DSSE envelope")
    if not raw or len(raw) > limits.max_signatures:
        raise SignatureRejected("DSSE envelope has no or too many signatures")
    return [
        b64decode(member(item, "sig", str, "DSSE signature"), "DSSE signature", 4096)
        for item in raw
    ]


def _check_keyed_log(
    entry: LogEntry | None,
    key: TrustedKey,
    envelope: bytes,
    payload: bytes,
    signature: bytes,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits,
) -> None:
    verified = checked_set(entry, policy, material, "attestation")
    if verified is None:
        return
    check_dsse_entry(
        parse_entry_body(verified, limits),
        envelope=envelope,
        payload=payload,
        signature=signature,
        verifier=key.der,
    )

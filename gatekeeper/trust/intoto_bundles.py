"""Keyless Sigstore bundles logged as Rekor ``intoto`` entries, verified here.

npm provenance and GitHub's earlier artifact attestations are DSSE bundles whose Rekor entry is
``intoto`` 0.0.2 (tests/assets/provenance: npm ``sigstore@3.1.0``). sigstore-python (4.5, and
its main branch as of this writing) refuses them before anything else is checked
("Integrated time only supported for dsse/hashedrekord 0.0.1 types", ``Verifier._establish_time``),
so :func:`gatekeeper.trust.bundles.open_bundle` sends them here, where the same checks are made
with the pieces the cosign legacy path uses:

* the Rekor SET (inclusion promise) verifies with a log key of the trusted root, which makes
  ``integratedTime`` trustworthy; the certificate then chains to a Fulcio CA of the trusted root
  *at that moment*, carries a valid embedded SCT and the code-signing profile, and matches the
  policy's keyless identities (issuer, subject, claims);
* the DSSE signature verifies with the certificate's key over the PAE;
* the entry body is an ``intoto`` 0.0.2 entry naming this payload's hash, this signature and this
  certificate (0.0.2 logs the signatures themselves; the envelope hash it also records is over
  the envelope as submitted, which a bundle does not keep, and binds nothing the signature and
  payload hash do not).

The inclusion proof a bundle may also carry is not checked here: as for cosign's legacy
signatures, the SET is the log's signed promise.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography import x509

from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust._decode import b64decode, member
from gatekeeper.trust.bundles import dsse_pae
from gatekeeper.trust.certs import verify_chain
from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.identity import match_identity
from gatekeeper.trust.keys import key_from_object
from gatekeeper.trust.limits import TrustLimits
from gatekeeper.trust.material import TrustMaterial
from gatekeeper.trust.rekor import (
    certificate_der,
    check_dsse_entry,
    parse_bundle_entry,
    parse_entry_body,
    verify_set,
)
from gatekeeper.trust.sct import verify_embedded_sct


def logged_as_intoto(material_doc: dict[str, Any]) -> bool:
    """Whether the bundle's (first) log entry is a Rekor ``intoto`` entry."""
    entries = material_doc.get("tlogEntries")
    first = entries[0] if isinstance(entries, list) and entries else None
    kind = first.get("kindVersion") if isinstance(first, dict) else None
    return isinstance(kind, dict) and kind.get("kind") == "intoto"


def verify_keyless_intoto(
    doc: dict[str, Any], policy: SignaturePolicy, material: TrustMaterial, limits: TrustLimits
) -> tuple[str, str, bytes]:
    """(signer, payload type, payload) of a keyless DSSE bundle with an intoto log entry."""
    if not policy.keyless:
        raise SignatureRejected(
            "bundle is signed with a certificate, but the policy names no keyless identities"
        )
    envelope = member(doc, "dsseEnvelope", dict, "Sigstore bundle")
    material_doc = member(doc, "verificationMaterial", dict, "Sigstore bundle")
    payload_type = member(envelope, "payloadType", str, "DSSE envelope")
    payload = b64decode(envelope.get("payload"), "DSSE payload", limits.max_payload_bytes)
    raw_signatures = member(envelope, "signatures", list, "DSSE envelope")
    if not raw_signatures or len(raw_signatures) > limits.max_signatures:
        raise SignatureRejected("DSSE envelope has no or too many signatures")
    signatures = [
        b64decode(member(item, "sig", str, "DSSE signature"), "DSSE signature", 4096)
        for item in raw_signatures
    ]
    leaf, untrusted = bundle_certificates(material_doc, limits)
    entries = member(material_doc, "tlogEntries", list, "bundle verificationMaterial")
    if len(entries) != 1:
        raise SignatureRejected("bundle must carry exactly one Rekor entry")
    entry = parse_bundle_entry(entries[0], limits)
    if entry is None:
        raise SignatureRejected(
            "keyless bundle has no Rekor SET, so its certificate cannot be checked at signing time"
        )
    verify_set(entry, material.root)
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
    pae = dsse_pae(payload_type, payload)
    made = next((s for s in signatures if cert_key.verify(s, pae)), None)
    if made is None:
        raise SignatureRejected("DSSE signature does not verify with the certificate's key")
    claims = parse_entry_body(entry, limits)
    if claims.kind != "intoto" or not claims.signatures:
        raise SignatureRejected("Rekor entry is not an intoto 0.0.2 entry naming its signature")
    check_dsse_entry(
        claims, envelope=None, payload=payload, signature=made, verifier=certificate_der(leaf)
    )
    return signer, payload_type, payload


def bundle_certificates(
    material_doc: dict[str, Any], limits: TrustLimits
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    if "certificate" in material_doc:
        raw = [member(material_doc, "certificate", dict, "bundle verificationMaterial")]
    else:
        chain = member(material_doc, "x509CertificateChain", dict, "bundle verificationMaterial")
        raw = member(chain, "certificates", list, "bundle x509CertificateChain")
    if not raw or len(raw) > limits.max_chain_certificates:
        raise SignatureRejected("bundle has no or too many certificates")
    certificates = []
    for item in raw:
        text = member(item, "rawBytes", str, "bundle certificate")
        try:
            der = base64.b64decode(text, validate=True)
            certificates.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError) as exc:
            raise SignatureRejected("bundle certificate is not valid DER") from exc
    return certificates[0], certificates[1:]

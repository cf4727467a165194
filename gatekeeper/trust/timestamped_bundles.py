"""Keyless Sigstore bundles with no transparency log entry, dated by RFC 3161 timestamps.

GitHub's own Sigstore instance (``fulcio.githubapp.com`` + ``timestamp.githubapp.com``) signs
private-repository artifact attestations this way: a Fulcio certificate, a DSSE envelope and a
signed timestamp, no Rekor entry (its trusted root, from ``gh attestation trusted-root``, lists
CAs and TSAs and no logs). sigstore-python refuses such bundles while parsing them ("expected
exactly one log entry in bundle", ``Bundle._verify``), and its ``Verifier`` cannot even be built
on a trusted root without logs, so :func:`gatekeeper.trust.bundles.open_bundle` sends them here:

* every timestamp verifies with a TSA of the trusted root (:mod:`gatekeeper.trust.timestamps`),
  and at least one exists: it is the only verified time there is;
* at each verified time the certificate chains to a Fulcio CA of the trusted root valid then,
  and carries the code-signing profile (:func:`gatekeeper.trust.certs.verify_chain`);
* the certificate's embedded SCT verifies when the trusted root lists CT logs; a root with none
  (GitHub's) states that its CA does not log to CT, and then none is asked for (as
  ``gh attestation verify`` does for that instance);
* the identity matches the policy's keyless identities, and the one DSSE signature verifies with
  the certificate's key.

``transparency_log: required`` refuses these bundles: they are in no log.
"""

from __future__ import annotations

from typing import Any

from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust._decode import b64decode, member
from gatekeeper.trust.bundles import dsse_pae
from gatekeeper.trust.certs import verify_chain
from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.identity import match_identity
from gatekeeper.trust.intoto_bundles import bundle_certificates
from gatekeeper.trust.keys import key_from_object
from gatekeeper.trust.limits import TrustLimits
from gatekeeper.trust.material import TrustMaterial
from gatekeeper.trust.sct import verify_embedded_sct
from gatekeeper.trust.timestamps import verify_timestamps


def verify_keyless_timestamped(
    doc: dict[str, Any], policy: SignaturePolicy, material: TrustMaterial, limits: TrustLimits
) -> tuple[str, str, bytes]:
    """(signer, payload type, payload) of a keyless DSSE bundle dated by timestamps only."""
    if not policy.keyless:
        raise SignatureRejected(
            "bundle is signed with a certificate, but the policy names no keyless identities"
        )
    if policy.transparency_log != "optional":
        raise SignatureRejected(
            "bundle has no transparency log entry (timestamps only); the policy requires one"
        )
    envelope = member(doc, "dsseEnvelope", dict, "Sigstore bundle")
    material_doc = member(doc, "verificationMaterial", dict, "Sigstore bundle")
    payload_type = member(envelope, "payloadType", str, "DSSE envelope")
    payload = b64decode(envelope.get("payload"), "DSSE payload", limits.max_payload_bytes)
    raw_signatures = member(envelope, "signatures", list, "DSSE envelope")
    if len(raw_signatures) != 1:
        # The timestamp covers "the" signature (protobuf-specs): one is all a bundle may have.
        raise SignatureRejected("DSSE envelope of a timestamped bundle must have one signature")
    signature = b64decode(
        member(raw_signatures[0], "sig", str, "DSSE signature"), "DSSE signature", 4096
    )
    leaf, untrusted = bundle_certificates(material_doc, limits)
    times = verify_timestamps(material_doc, signature, material.root, limits)
    if not times:
        raise SignatureRejected(
            "bundle has neither a log entry nor a signed timestamp: no verified signing time"
        )
    chain = []
    for moment in times:
        chain = verify_chain(leaf, untrusted, material.root, moment, limits.max_chain_certificates)
    if not chain:
        raise SignatureRejected("certificate is itself a trust anchor, not a Fulcio leaf")
    if material.root.ctlogs:
        verify_embedded_sct(leaf, chain[0], material.root)
    signer = match_identity(leaf, policy.keyless)
    try:
        cert_key = key_from_object(leaf.public_key(), "certificate key")
    except (TrustError, ValueError) as exc:
        raise SignatureRejected(str(exc)) from exc
    if not cert_key.verify(signature, dsse_pae(payload_type, payload)):
        raise SignatureRejected("DSSE signature does not verify with the certificate's key")
    return signer, payload_type, payload

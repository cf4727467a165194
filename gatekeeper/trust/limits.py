"""Bounds on the work a hostile registry can make signature verification do.

Everything verified here was fetched from a registry that anyone with push access controls, so
every count and size is capped before it is parsed, and every refusal is a reason, never an
exception that escapes :func:`gatekeeper.trust.verify.evaluate_signatures`.

==========================  ========  =======================================================
limit                       default   what happens past it
==========================  ========  =======================================================
``max_candidates``          64        signature layers + bundles examined per image; the rest
                                      are reported as one problem ("N more not examined")
``max_payload_bytes``       128 KiB   a simple-signing payload blob or a DSSE payload is
                                      refused unread (cosign's are ~250 bytes)
``max_bundle_bytes``        1 MiB     a Sigstore bundle is refused unparsed (real ones: ~10 KiB)
``max_attestation_bytes``   16 MiB    an attestation (``.att`` DSSE envelope layer, attestation
                                      bundle, its statement) is refused unread; attestations
                                      carry whole reports (a vuln one embeds a Trivy report:
                                      tens of KiB to a few MiB), so they get their own bound
``max_annotation_bytes``    64 KiB    one annotation value (signature, certificate, chain,
                                      Rekor bundle) is refused undecoded
``max_chain_certificates``  4         certificates in ``dev.sigstore.cosign/chain`` and the
                                      depth of a verified chain (Fulcio: leaf, intermediate,
                                      root)
``max_signatures``          8         signatures in one DSSE envelope or Rekor entry
``max_subjects``            1024      subjects in one in-toto statement
``max_problems``            16        distinct problems kept in the evidence (then "… and N
                                      more"); each is cut to ``max_reason_chars``
==========================  ========  =======================================================

Malformed base64, JSON (including duplicate keys and nesting deep enough to overflow the
parser), certificates and keys of unsupported types are refused with a reason naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class TrustLimits:
    """Limits applied to one image's signature artifacts (see the module docstring)."""

    max_candidates: int = 64
    max_payload_bytes: int = 128 * 1024
    max_bundle_bytes: int = 1024 * 1024
    max_attestation_bytes: int = 16 * 1024 * 1024
    max_annotation_bytes: int = 64 * 1024
    max_chain_certificates: int = 4
    max_signatures: int = 8
    max_subjects: int = 1024
    max_problems: int = 16
    max_reason_chars: int = 300

    def for_attestations(self) -> TrustLimits:
        """These limits with payloads and bundles bounded by ``max_attestation_bytes``."""
        return replace(
            self,
            max_payload_bytes=self.max_attestation_bytes,
            max_bundle_bytes=self.max_attestation_bytes,
        )


DEFAULT_LIMITS = TrustLimits()

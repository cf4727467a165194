"""``scan.vex``: whose signed OpenVEX statements may answer a rule's vulnerability findings."""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.policy.model import SignaturePolicy


@dataclass(frozen=True, slots=True)
class VexPolicy:
    """Signed OpenVEX attestations by ``signers`` (compiled like ``signatures``, no
    ``threshold``) may take findings out of the blocking set (:mod:`gatekeeper.policy.vex_checks`).
    """

    signers: SignaturePolicy

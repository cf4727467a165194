"""Attestation requirements of a rule: which signed statements an image must carry."""

from __future__ import annotations

from dataclasses import dataclass, field

from gatekeeper.policy.cel import Condition
from gatekeeper.policy.model import NOT_FINGERPRINTED, SignaturePolicy

MAX_ATTESTATIONS = 16  # requirements per rule
MAX_CONDITIONS = 32  # conditions per requirement


@dataclass(frozen=True, slots=True)
class AttestationRequirement:
    """``attestations[]`` of a rule: one verified statement must satisfy every condition.

    ``signers`` is compiled exactly like a rule's ``signatures`` section (its keys, keyless
    identities, trusted root and transparency-log rule, parsed at load) without
    ``threshold``: one trusted signature makes a statement count.
    """

    name: str
    predicate_type: str
    signers: SignaturePolicy
    conditions: tuple[Condition, ...] = ()
    source: str = field(default="", metadata=NOT_FINGERPRINTED)  # "file:line"

"""What was found for a rule's attestation requirements: gathered with I/O, judged purely."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatementResult:
    """One verified statement measured against one requirement's conditions."""

    source: str  # where it was found, e.g. "tag sha256-<hex>.att", "referrer sha256:…"
    signer: str  # "key <id>" or "<issuer> <subject>"
    failed: str | None = None  # the first condition that did not hold (None: all held)
    reason: str = ""  # "false", "error: …", "not a boolean (…)"
    seen: tuple[str, ...] = ()  # "path = value", bounded: what the failed condition read
    # SLSA provenance: the images the build resolved (policy.provenance_bases); None when
    # the statement is not SLSA provenance.
    images: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class RequirementEvidence:
    """Everything found for one ``attestations[]`` entry of a rule."""

    name: str
    predicate_type: str
    statements: tuple[StatementResult, ...]  # verified statements, passing ones first
    looked_at: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # candidates that did not verify, and why

    @property
    def satisfied_by(self) -> StatementResult | None:
        """The first verified statement that satisfied every condition, if any."""
        return next((item for item in self.statements if item.failed is None), None)


@dataclass(frozen=True, slots=True)
class AttestationsEvidence:
    """One entry per requirement of the rule, in the rule's order."""

    requirements: tuple[RequirementEvidence, ...]

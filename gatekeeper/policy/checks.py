"""The result of one policy check: refusals (each with a hint) and notes for an allow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused, and how the client or publisher can fix it."""

    reason: str
    hints: tuple[str, ...]
    code: str = "refused"  # stable, machine-readable (decision log, metrics); see CODES


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check found; checks combine with ``+`` so every refusal is reported."""

    refusals: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = ()
    # failures a check only logs (Notation audit/permissive levels): sent as Warning headers
    warnings: tuple[str, ...] = ()

    def __add__(self, other: CheckResult) -> CheckResult:
        return CheckResult(
            self.refusals + other.refusals,
            self.notes + other.notes,
            self.warnings + other.warnings,
        )


PASS = CheckResult()

# Stable reason codes: the decision log and metrics carry them, so operators can alert on
# them; a message may be reworded, a code may not. Each refusal names exactly one.
CODES = frozenset(
    {
        "no-rule",  # no policy rule matches the repository (default deny)
        "repository-denied",  # the matching rule has action: deny
        "manifest-invalid",  # the manifest cannot be parsed, so it cannot be checked
        "artifact-tag-runnable",  # a runnable image under a sha256-<hex>[.sig|.att|.sbom] tag
        "tag-digest-required",
        "tag-denied",
        "tag-not-allowed",
        "tag-immutable",  # moving an immutable tag (push) or deleting under one
        "evidence-unavailable",  # evidence the rule needs could not be gathered
        "signature-missing",  # not enough trusted signatures
        "scan-missing",  # no usable verdict (none, for other bytes, or too old)
        "scan-vulnerable",
        "image-user",
        "image-secrets",
        "image-healthcheck",
        "image-age",
        "image-add-url",
        "image-size",
        "image-labels",
        "image-base",
        "image-layers",
        "attestation-missing",  # no statement of the required type from a trusted signer
        "attestation-unsatisfied",  # verified statements, but none meets the conditions
        "blob-not-admitted",  # a blob no admitted manifest in the repository lists
        "mount-source",  # a cross-repository mount reading a repository the client may not
        "internal-error",  # a check crashed: fail closed
        "integrity",  # the upstream sent other bytes than were asked for or announced
        "mirror-route",  # mirror mode: a registry not mirrored here, or an ambiguous name
        "proxy-required",  # asked to decide for another proxy what gatekeeper must serve
    }
)


def refuse(reason: str, *hints: str, code: str) -> CheckResult:
    """One refusal; ``code`` is its stable reason code (listed in :data:`CODES`)."""
    assert code in CODES, code
    return CheckResult(refusals=(Refusal(reason, hints, code),))


def note(text: str) -> CheckResult:
    return CheckResult(notes=(text,))


def warn(*texts: str) -> CheckResult:
    """Failures that are logged and sent as warnings, never refusals."""
    return CheckResult(warnings=texts)


def combine(results: Iterable[CheckResult]) -> CheckResult:
    """All ``results`` as one, in order."""
    total = PASS
    for result in results:
        total += result
    return total


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    # Evidence comes from image configs and scanner reports; a naive timestamp there
    # must not crash a comparison with the aware clock.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def plural(count: int, word: str) -> str:
    """``plural(1, "finding")`` → ``1 finding``; ``plural(2, …)`` → ``2 findings``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"

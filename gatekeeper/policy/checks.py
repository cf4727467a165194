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


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check found; checks combine with ``+`` so every refusal is reported."""

    refusals: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = ()

    def __add__(self, other: CheckResult) -> CheckResult:
        return CheckResult(self.refusals + other.refusals, self.notes + other.notes)


PASS = CheckResult()


def refuse(reason: str, *hints: str) -> CheckResult:
    return CheckResult(refusals=(Refusal(reason, hints),))


def note(text: str) -> CheckResult:
    return CheckResult(notes=(text,))


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

"""The result of ``decide()``: outcome, the rule that decided, reasons and hints."""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.policy.model import Mode, Outcome


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    rule: str | None  # None: no rule matched (default deny)
    mode: Mode
    reasons: tuple[str, ...] = ()  # why it was refused (or notes when allowed)
    hints: tuple[str, ...] = ()  # how to fix it
    codes: tuple[str, ...] = ()  # stable reason codes of the refusals (policy.checks.CODES)
    warnings: tuple[str, ...] = ()  # logged-only failures (Notation audit): Warning headers

    @property
    def refused(self) -> bool:
        """True when the request must be blocked (a deny in enforce mode)."""
        return self.outcome is Outcome.DENY and self.mode is Mode.ENFORCE

    @property
    def log_outcome(self) -> str:
        """allow | deny | would-deny, as the decision log writes it."""
        if self.outcome is Outcome.ALLOW:
            return "allow"
        return "deny" if self.mode is Mode.ENFORCE else "would-deny"

"""OpenVEX statements about one image, as verified and read (I/O outside the core)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SUPPRESSING = frozenset({"not_affected", "fixed"})  # OpenVEX statuses that answer a finding


@dataclass(frozen=True, slots=True)
class VexStatement:
    """One OpenVEX statement whose product names the image being admitted."""

    vulnerability: str  # the statement's vulnerability name (and aliases, below)
    status: str  # not_affected | affected | fixed | under_investigation
    source: str  # e.g. "tag sha256-<hex>.att statement 2"
    signer: str
    timestamp: datetime | None = None
    justification: str = ""
    aliases: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()  # subcomponent package names; empty: the whole product

    def names(self, vulnerability: str) -> bool:
        wanted = vulnerability.casefold()
        return any(name.casefold() == wanted for name in (self.vulnerability, *self.aliases))

    def covers(self, package: str) -> bool:
        return not self.packages or package in self.packages

    def describe(self) -> str:
        why = f" ({self.justification})" if self.justification else ""
        return f"VEX {self.status}{why} from {self.source}, signed by {self.signer}"


@dataclass(frozen=True, slots=True)
class VexEvidence:
    """Every trusted statement about the image; ``note`` says what did not count."""

    statements: tuple[VexStatement, ...]
    note: str = ""

"""The ``signatures.notation`` part of a rule: Notary Project trust stores, identities, level.

Meanings follow the Notary Project trust policy specification (``trust-store-trust-policy.md``):

- ``trusted_identities`` are ``x509.subject: <RDNs>`` values (each must name C, ST or S, and
  O; escapes ``\\,`` ``\\;`` ``\\\\`` and a leading or trailing ``\\ ``), or the single value
  ``*`` (any certificate that chains to the trust store). An identity matches a signing
  certificate when every attribute it lists is in the certificate's subject with the same
  value. Overlapping identities (one certificate could match two) are a load error.
- ``level``: ``strict`` enforces integrity, authenticity, authentic timestamp and expiry;
  ``permissive`` only logs authentic-timestamp and expiry failures; ``audit`` never refuses:
  every failure becomes a warning, and its signatures do not count towards ``threshold``.

Parsed material (certificates) lives in :mod:`gatekeeper.trust.notation.store`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gatekeeper.policy.model import NOT_FINGERPRINTED

if TYPE_CHECKING:
    from gatekeeper.trust.notation.store import NotationTrust

ANY_IDENTITY = "*"
SUBJECT_PREFIX = "x509.subject:"
# Short attribute names the Notary Project uses (RFC 4514 plus S for ST, as notation-go).
ATTRIBUTE_NAMES = {
    "C": "C",
    "ST": "ST",
    "S": "ST",
    "L": "L",
    "O": "O",
    "OU": "OU",
    "CN": "CN",
    "SERIALNUMBER": "SERIALNUMBER",
    "STREET": "STREET",
    "DC": "DC",
    "UID": "UID",
    "EMAILADDRESS": "EMAILADDRESS",
    "E": "EMAILADDRESS",
}
_REQUIRED = (("C",), ("ST",), ("O",))


class NotationLevel(enum.Enum):
    """Notary Project verification levels (``skip`` is a rule without ``notation``)."""

    STRICT = "strict"
    PERMISSIVE = "permissive"
    AUDIT = "audit"

    @property
    def enforces_authenticity(self) -> bool:
        return self is not NotationLevel.AUDIT

    @property
    def enforces_time(self) -> bool:
        """Authentic timestamp and expiry (and revocation, were it checked)."""
        return self is NotationLevel.STRICT


@dataclass(frozen=True, slots=True)
class TrustedIdentity:
    """One ``trusted_identities`` entry: as written, and its attributes (empty for ``*``)."""

    text: str
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def is_any(self) -> bool:
        return self.text == ANY_IDENTITY

    def matches(self, subject: dict[str, str]) -> bool:
        """True when every attribute is in ``subject`` (short name → value) with that value."""
        return self.is_any or all(subject.get(name) == value for name, value in self.attributes)

    def overlaps(self, other: TrustedIdentity) -> bool:
        """True when one certificate subject could match both identities."""
        if self.is_any or other.is_any:
            return True
        mine, theirs = dict(self.attributes), dict(other.attributes)
        return all(mine[name] == theirs[name] for name in mine.keys() & theirs.keys())


@dataclass(frozen=True, slots=True)
class NotationPolicy:
    """Whom a rule trusts to sign with Notation, and how strictly (see the module docstring).

    ``material`` holds the certificates parsed when the policy was compiled; it compares by
    its fingerprint, so the policy stays a cheap cache key.
    """

    trust_store: tuple[Path, ...] = field(default=(), metadata=NOT_FINGERPRINTED)
    trusted_identities: tuple[TrustedIdentity, ...] = ()
    level: NotationLevel = NotationLevel.STRICT
    # notary.x509.signingAuthority signatures verify against this store (none: refused)
    signing_authority: tuple[Path, ...] = field(default=(), metadata=NOT_FINGERPRINTED)
    # when given, notary.x509 signatures must carry an RFC 3161 timestamp from this TSA
    tsa_trust_store: tuple[Path, ...] = field(default=(), metadata=NOT_FINGERPRINTED)
    # Notation's verifyTimestamp: "always", or "afterCertExpiry" (only once a certificate of
    # the signing chain has expired is the timestamp required and verified)
    verify_timestamp: str = "always"
    material: NotationTrust | None = None
    # Notation's custom verification level: ("expiry" | "authenticTimestamp", "enforce" | "log")
    overrides: tuple[tuple[str, str], ...] = ()
    # imported from a Notation trustpolicy.json: the statement for the repository decides
    # (gatekeeper.policy.notation_import); the fields above are then unused
    trust_policy: NotationTrustPolicy | None = None

    def enforces(self, validation: str) -> bool:
        """Whether a failure of ``expiry`` or ``authenticTimestamp`` refuses (else: logged)."""
        for name, setting in self.overrides:
            if name == validation:
                return setting == "enforce"
        return self.level.enforces_time

    @property
    def signer_count(self) -> int:
        """How many signers this part can contribute to ``threshold`` (audit: none)."""
        if self.trust_policy is not None:
            return 1 if self.trust_policy.enforcing else 0
        return len(self.trusted_identities) if self.level.enforces_authenticity else 0


@dataclass(frozen=True, slots=True)
class NotationStatement:
    """One statement of an imported ``trustpolicy.json``: its scopes and what it demands."""

    name: str
    scopes: tuple[str, ...]  # fully qualified repository URIs, or ("*",) for the global one
    policy: NotationPolicy | None  # None: level skip (no verification, no signer)


@dataclass(frozen=True, slots=True)
class NotationTrustPolicy:
    """A Notation OCI trust policy, compiled: statements selected per repository.

    ``registry`` names the registry gatekeeper fronts as Notation users write it in
    ``registryScopes`` (``registry.acme-rockets.io``); a repository that policy sees
    unqualified (``software/net-monitor``) is scoped as ``<registry>/<repository>``, one
    already qualified by a registry host (mirror mode: ``ghcr.io/acme/app``) as itself.
    """

    registry: str
    statements: tuple[NotationStatement, ...]
    source: Path = field(default=Path(), metadata=NOT_FINGERPRINTED)

    @property
    def enforcing(self) -> bool:
        """True when some statement enforces authenticity (strict or permissive)."""
        return any(
            s.policy is not None and s.policy.level.enforces_authenticity for s in self.statements
        )

    def scope_of(self, repository: str) -> str:
        first = repository.split("/", 1)[0]
        if "/" in repository and ("." in first or ":" in first or first == "localhost"):
            return repository
        return f"{self.registry}/{repository}"

    def select(self, repository: str) -> NotationStatement | None:
        """The exact-scope statement, else the global one, else None (untrusted)."""
        scope = self.scope_of(repository)
        for statement in self.statements:
            if scope in statement.scopes:
                return statement
        for statement in self.statements:
            if statement.scopes == (ANY_IDENTITY,):
                return statement
        return None

    def signers_required(self, repository: str) -> int:
        """1 where the selected statement enforces authenticity, 0 at audit or skip."""
        statement = self.select(repository)
        if statement is None:
            return 1  # no applicable statement: untrusted (the gatherer says why)
        if statement.policy is None or not statement.policy.level.enforces_authenticity:
            return 0
        return 1


class IdentityError(ValueError):
    """A ``trusted_identities`` value that is not a usable Notation identity."""


def parse_identity(text: str) -> TrustedIdentity:
    """Parse ``*`` or ``x509.subject: C=US, ST=WA, O=Acme, CN=release``."""
    if text.strip() == ANY_IDENTITY:
        return TrustedIdentity(ANY_IDENTITY)
    if not text.startswith(SUBJECT_PREFIX):
        raise IdentityError(f"expected '*' or a value starting with '{SUBJECT_PREFIX}'")
    attributes: dict[str, str] = {}
    for rdn in split_dn(text[len(SUBJECT_PREFIX) :]):
        name, sep, value = rdn.partition("=")
        key = ATTRIBUTE_NAMES.get(name.strip().upper())
        if not sep or key is None:
            known = ", ".join(sorted(ATTRIBUTE_NAMES))
            raise IdentityError(f"{rdn.strip()!r} is not NAME=value with NAME one of {known}")
        if key in attributes:
            raise IdentityError(f"attribute {key} is given twice")
        attributes[key] = value
    missing = [names[0] for names in _REQUIRED if not any(n in attributes for n in names)]
    if missing:
        raise IdentityError(
            f"an identity must name C, ST (or S) and O; missing {', '.join(missing)}"
        )
    return TrustedIdentity(text, tuple(attributes.items()))


def split_dn(text: str) -> list[str]:
    """RDNs of a DN string, unescaped (``\\,`` ``\\;`` ``\\\\`` ``\\ ``), values trimmed.

    Multi-valued RDNs (``+``) and unknown escapes are refused.
    """
    rdns: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            nxt = next(chars, None)
            if nxt is None or nxt not in ',;\\ +="<>#':
                raise IdentityError("unknown escape in identity (use \\, \\; \\\\ or '\\ ')")
            current.append("\x00" if nxt == " " else nxt)
        elif char == ",":
            rdns.append(_finish(current))
            current = []
        elif char == "+":
            raise IdentityError("multi-valued RDNs (+) are not supported")
        else:
            current.append(char)
    rdns.append(_finish(current))
    if any(not rdn for rdn in rdns):
        raise IdentityError("empty RDN (two commas in a row, or a trailing comma)")
    return rdns


def _finish(chars: list[str]) -> str:
    name, sep, value = "".join(chars).partition("=")
    if not sep:
        return "".join(chars).strip()
    # Unescaped spaces around a value are formatting; escaped ones (\x00 here) are data.
    return f"{name.strip()}={value.strip().replace(chr(0), ' ')}"

"""The compiled policy and the values that flow through a decision (all frozen)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from gatekeeper.policy.files import WatchedFile

if TYPE_CHECKING:
    # Only for annotations: gatekeeper.trust imports this module at run time.
    from gatekeeper.policy.attestation_model import AttestationRequirement
    from gatekeeper.policy.notation import NotationPolicy
    from gatekeeper.policy.vex_model import VexPolicy
    from gatekeeper.trust.material import TrustMaterial

# Field metadata for what the policy fingerprint leaves out (gatekeeper.policy.fingerprint):
# where something was written, or a file name whose parsed content is fingerprinted instead.
NOT_FINGERPRINTED: Mapping[str, bool] = MappingProxyType({"fingerprint": False})


class Mode(enum.Enum):
    ENFORCE = "enforce"
    DRY_RUN = "dry-run"


class RuleAction(enum.Enum):
    """What a matching rule does: check the image (``allow``) or refuse outright."""

    ALLOW = "allow"
    DENY = "deny"


class Action(enum.Enum):
    """What the client is doing: every request kind of the distribution API is one."""

    PULL = "pull"  # manifest GET or HEAD
    PUSH = "push"  # manifest PUT
    DELETE = "delete"  # manifest DELETE (by digest or tag)
    READ_BLOB = "read-blob"  # blob GET: the bytes of a layer or config
    STAT_BLOB = "stat-blob"  # blob HEAD: existence only (clients ask before uploading)
    DELETE_BLOB = "delete-blob"
    UPLOAD = "upload"  # blob upload sessions (start, chunks, finish, cancel, status)
    MOUNT = "mount"  # the read side of a cross-repository mount: ``from`` is the repository
    LIST_TAGS = "list-tags"
    REFERRERS = "referrers"
    CATALOG = "catalog"  # one repository's visibility in ``/v2/_catalog``

    @property
    def is_manifest(self) -> bool:
        """Pull or push of manifest bytes: the actions decided on the manifest itself."""
        return self in (Action.PULL, Action.PUSH)


class Outcome(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


class EvidenceKind(enum.Enum):
    """Evidence a rule needs gathered before it can decide."""

    SIGNATURES = "signatures"
    SCAN = "scan"
    IMAGE = "image"
    ATTESTATIONS = "attestations"


@dataclass(frozen=True, slots=True)
class TagPolicy:
    deny: tuple[str, ...] = ()  # glob patterns, matched case-insensitively
    allow: tuple[re.Pattern[str], ...] = ()  # regexes; when present a tag must match one
    require_digest: bool = False  # refuse every pull by tag
    immutable: bool = False  # refuse moving an existing tag to another digest on push


@dataclass(frozen=True, slots=True)
class ClaimMatcher:
    """One Fulcio certificate claim (``gatekeeper.trust.fulcio_claims``): exact or regex."""

    name: str  # e.g. "source_repository_ref"
    value: str | None = None
    regex: re.Pattern[str] | None = None  # fullmatch

    def accepts(self, found: str | None) -> bool:
        if found is None:
            return False  # a claim the policy names must be present
        if self.value is not None:
            return found == self.value
        return self.regex is not None and self.regex.fullmatch(found) is not None

    def describe(self) -> str:
        return (
            f"{self.name} {self.value!r}"
            if self.regex is None
            else (f"{self.name} ~ {self.regex.pattern!r}")
        )


@dataclass(frozen=True, slots=True)
class KeylessIdentity:
    """A Fulcio certificate identity: issuer (exact or regex), subject (exact or regex), and
    claims every one of which the certificate must carry."""

    issuer: str | None  # None only with issuer_regex
    subject: str | None = None
    subject_regex: re.Pattern[str] | None = None
    issuer_regex: re.Pattern[str] | None = None  # fullmatch
    claims: tuple[ClaimMatcher, ...] = ()


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    """Whom a rule trusts to sign, and the trust material parsed when it was compiled.

    ``material`` holds the keys and trusted root as read at compile time; gatherers verify
    with exactly that and never re-read the files. It compares (and hashes) by its
    fingerprint, so a SignaturePolicy stays a cheap cache key that changes with the keys.
    None only for a policy built by hand (tests): gatherers then refuse (fail closed).
    """

    # absolute paths (resolved against the policy file); ``material`` holds their content
    keys: tuple[Path, ...] = field(default=(), metadata=NOT_FINGERPRINTED)
    keyless: tuple[KeylessIdentity, ...] = ()
    threshold: int = 1
    transparency_log: str = "optional"  # "optional" | "required"
    timestamps: str = "optional"  # "optional" | "required": an RFC 3161 timestamp (bundles)
    # None: Sigstore production root
    trusted_root: Path | None = field(default=None, metadata=NOT_FINGERPRINTED)
    material: TrustMaterial | None = None
    # where signatures and attestations are stored (cosign's COSIGN_REPOSITORY), in the
    # image's upstream; None: beside the image
    repository: str | None = None
    # Notary Project signatures (gatekeeper.policy.notation); they count towards threshold
    notation: NotationPolicy | None = None

    @property
    def uses_cosign(self) -> bool:
        """True when cosign keys or keyless identities are listed."""
        return bool(self.keys or self.keyless)

    def threshold_for(self, repository: str) -> int:
        """``threshold``, except under an imported Notation trust policy, where the statement
        selected for ``repository`` decides (its level: strict/permissive 1, audit/skip 0)."""
        if self.notation is not None and self.notation.trust_policy is not None:
            return self.notation.trust_policy.signers_required(repository)
        return self.threshold


@dataclass(frozen=True, slots=True)
class IgnoredVulnerability:
    id: str
    reason: str
    until: date | None = None


@dataclass(frozen=True, slots=True)
class ScanPolicy:
    deny_severities: tuple[str, ...] = ("CRITICAL",)
    require_verdict: bool = True
    max_age: timedelta | None = None
    ignore_unfixed: bool = False
    ignore: tuple[IgnoredVulnerability, ...] = ()
    scanner: str | None = None  # Harbor Pluggable Scanner API base URL
    vex: VexPolicy | None = None  # signed OpenVEX may answer findings


@dataclass(frozen=True, slots=True)
class ImagePolicy:
    """Docker security checklist items checked from the image config."""

    user: str | None = None  # "non-root" | "any"
    forbid_secrets_in_env: bool = False  # ENV entries, by name and by value
    forbid_secrets_in_labels: bool = False  # labels, by key and by value
    require_healthcheck: bool = False
    max_age: timedelta | None = None
    forbid_add_from_url: bool = False
    max_size_bytes: int | None = None
    max_layers: int | None = None
    trusted_bases: tuple[str, ...] = ()
    required_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    repositories: tuple[str, ...]  # globs as written
    matchers: tuple[re.Pattern[str], ...]  # compiled from ``repositories``
    action: RuleAction = RuleAction.ALLOW
    mode: Mode | None = None  # overrides the file's mode for this rule
    tags: TagPolicy = field(default_factory=TagPolicy)
    signatures: SignaturePolicy | None = None
    scan: ScanPolicy | None = None
    image: ImagePolicy | None = None
    attestations: tuple[AttestationRequirement, ...] = ()
    source: str = field(default="", metadata=NOT_FINGERPRINTED)  # "file:line" of the rule

    def matches(self, repository: str) -> bool:
        return any(m.fullmatch(repository) for m in self.matchers)

    @property
    def admits_everything(self) -> bool:
        """An allow rule with no checks: nothing under it can be refused."""
        return self.action is RuleAction.ALLOW and self.tags == TagPolicy() and not self.needs

    @property
    def needs(self) -> frozenset[EvidenceKind]:
        """Evidence to gather before deciding (nothing for a deny rule)."""
        if self.action is RuleAction.DENY:
            return frozenset()
        kinds = set()
        if self.signatures is not None:
            kinds.add(EvidenceKind.SIGNATURES)
        if self.scan is not None:
            kinds.add(EvidenceKind.SCAN)
        if self.image is not None:
            kinds.add(EvidenceKind.IMAGE)
        if self.attestations:
            kinds.add(EvidenceKind.ATTESTATIONS)
        return frozenset(kinds)


_MATCH_MEMO = 4096


@dataclass(frozen=True, slots=True)
class Policy:
    mode: Mode
    rules: tuple[Rule, ...]
    # "sha256:…" over the compiled mode and rules, trust material included (comments and
    # formatting of the sources do not count): gatekeeper.policy.fingerprint
    fingerprint: str
    sources: tuple[str, ...] = ()
    forced_dry_run: bool = False  # ``serve --dry-run``: every rule warns, none refuses
    trust_files: tuple[WatchedFile, ...] = ()  # key and trusted root files, as read
    # Repository → rule, remembered: every request matches its repository several times on
    # the hot path. Names are client-chosen, so the memo is bounded (cleared when full).
    _matched: dict[str, Rule | None] = field(
        default_factory=dict, compare=False, repr=False, metadata={"fingerprint": False}
    )

    def match(self, repository: str) -> Rule | None:
        """First rule whose repositories match decides; None means deny."""
        try:
            return self._matched[repository]
        except KeyError:
            pass
        found = next((rule for rule in self.rules if rule.matches(repository)), None)
        if len(self._matched) >= _MATCH_MEMO:
            self._matched.clear()
        self._matched[repository] = found
        return found

    def force_dry_run(self) -> Policy:
        """The same policy with dry-run forced on every rule (``serve --dry-run``)."""
        return replace(self, mode=Mode.DRY_RUN, forced_dry_run=True, _matched={})

    def mode_for(self, rule: Rule | None) -> Mode:
        """The mode a decision under ``rule`` runs in."""
        if self.forced_dry_run:
            return Mode.DRY_RUN
        if rule is not None and rule.mode is not None:
            return rule.mode
        return self.mode

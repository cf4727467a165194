"""Evidence about one image, gathered (with I/O) outside the policy core and passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gatekeeper.oci.image_config import ImageFacts
from gatekeeper.policy.artifacts import ManifestClass
from gatekeeper.policy.attestation_evidence import AttestationsEvidence
from gatekeeper.policy.model import Action
from gatekeeper.policy.vex_evidence import VexEvidence

__all__ = [
    "AdmissionRequest",
    "AttestationsEvidence",
    "Evidence",
    "Finding",
    "ImageFacts",
    "ScanEvidence",
    "ScanVerdict",
    "SignatureEvidence",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """One request of any kind, as the decision core sees it: facts only, no I/O.

    Facts that need I/O (the manifest's class, what an admission record says) are looked
    up around the core and passed in; :func:`gatekeeper.policy.decide.decide` reads nothing
    else.
    """

    action: Action
    repository: str  # the name policy sees (MOUNT: the ``from`` repository)
    reference: str = ""  # the tag or digest the client asked for
    digest: str = ""  # manifests: computed over the bytes; blobs: the digest asked for
    media_type: str = ""
    now: datetime = _EPOCH  # passed in so the core stays pure (ignore expiries, verdict age)
    manifest_class: ManifestClass | None = None  # pull/push: what the manifest is
    problem: str | None = None  # pull/push: why the manifest could not be parsed
    subject: str | None = None  # the image an artifact says it is attached to
    current_tag_digest: str | None = None  # push by tag: what the tag points at today
    inherited_from: str | None = None  # pull by digest: the admitted index listing it
    opened: bool = False  # READ_BLOB/MOUNT: an admitted manifest here lists this blob

    @property
    def tag(self) -> str | None:
        if not self.action.is_manifest and self.action is not Action.DELETE:
            return None
        return None if ":" in self.reference or not self.reference else self.reference


@dataclass(frozen=True, slots=True)
class SignatureEvidence:
    """Outcome of signature verification for one digest under one SignaturePolicy."""

    signers: tuple[str, ...]  # distinct trusted signers whose signatures verified
    looked_at: tuple[str, ...] = ()  # where signatures were sought (tags, referrers)
    problems: tuple[str, ...] = ()  # why candidate signatures did not count
    warnings: tuple[str, ...] = ()  # logged-only failures (Notation audit/permissive levels)


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    package: str
    installed: str
    fixed: str | None
    severity: str  # CRITICAL | HIGH | MEDIUM | LOW | UNKNOWN


@dataclass(frozen=True, slots=True)
class ScanVerdict:
    digest: str
    source: str  # e.g. "trivy report reports/app.json", "attestation sha256-….att"
    created: datetime | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class ScanEvidence:
    verdict: ScanVerdict | None
    note: str = ""  # where gatekeeper looked when there is no verdict
    vex: VexEvidence | None = None  # scan.vex: trusted OpenVEX statements (None: not read)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything gathered for a decision; a field is None when it was not gathered."""

    signatures: SignatureEvidence | None = None
    scan: ScanEvidence | None = None
    image: ImageFacts | None = None
    attestations: AttestationsEvidence | None = None

"""Evidence about one image, gathered (with I/O) outside the policy core and passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gatekeeper.oci.image_config import ImageFacts
from gatekeeper.policy.model import Action

__all__ = [
    "AdmissionRequest",
    "Evidence",
    "Finding",
    "ImageFacts",
    "ScanEvidence",
    "ScanVerdict",
    "SignatureEvidence",
]


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """One pull or push of one manifest, as the decision core sees it."""

    action: Action
    repository: str
    reference: str  # the tag or digest the client asked for
    digest: str  # the digest gatekeeper computed over the manifest bytes
    media_type: str
    now: datetime  # passed in so the core stays pure (ignore expiries, verdict age)
    subject: str | None = None  # set when the manifest is a signature/attestation artifact
    current_tag_digest: str | None = None  # push by tag: what the tag points at today

    @property
    def tag(self) -> str | None:
        return None if ":" in self.reference else self.reference


@dataclass(frozen=True, slots=True)
class SignatureEvidence:
    """Outcome of signature verification for one digest under one SignaturePolicy."""

    signers: tuple[str, ...]  # distinct trusted signers whose signatures verified
    looked_at: tuple[str, ...] = ()  # where signatures were sought (tags, referrers)
    problems: tuple[str, ...] = ()  # why candidate signatures did not count


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


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything gathered for a decision; a field is None when it was not gathered."""

    signatures: SignatureEvidence | None = None
    scan: ScanEvidence | None = None
    image: ImageFacts | None = None

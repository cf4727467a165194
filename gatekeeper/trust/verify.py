"""Combine every candidate signature found for one image into SignatureEvidence.

The gatherer (which does the registry I/O) hands in what it fetched: legacy ``.sig`` layers
with their payload blobs, and Sigstore bundles from referrers. Each candidate either yields a
trusted signer or a problem; nothing raised inside a verifier escapes from here (a hostile
artifact may make one candidate fail, never the admission machinery). Limits:
:mod:`gatekeeper.trust.limits`. :func:`attempt` and the problem helpers serve
:mod:`gatekeeper.trust.attestations` as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from gatekeeper.oci.manifest import Descriptor
from gatekeeper.policy.evidence import SignatureEvidence
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.bundles import verify_bundle
from gatekeeper.trust.cosign_legacy import verify_legacy_signature
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial

_log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LegacySignature:
    """One layer of a cosign ``sha256-<hex>.sig`` manifest and the blob it names."""

    source: str  # where it was found, e.g. "tag sha256-<hex>.sig"
    layer: Descriptor
    payload: bytes


@dataclass(frozen=True, slots=True)
class BundleSignature:
    """A Sigstore bundle (the JSON bytes) found through referrers or the referrers tag."""

    source: str  # e.g. "referrer sha256:<manifest digest>"
    bundle: bytes


Candidate = LegacySignature | BundleSignature


def evaluate_signatures(
    candidates: Iterable[Candidate],
    image_digest: str,
    policy: SignaturePolicy,
    material: TrustMaterial,
    *,
    looked_at: Sequence[str] = (),
    limits: TrustLimits = DEFAULT_LIMITS,
) -> SignatureEvidence:
    """Verify up to ``limits.max_candidates`` candidates; collect signers and problems.

    Stops early once ``policy.threshold`` distinct signers have verified: the decision needs
    no more, and a registry stuffed with signatures cannot make a signed image slow.
    """
    signers: list[str] = []
    problems: list[str] = []
    places = list(looked_at)
    for examined, candidate in enumerate(candidates):
        if examined == limits.max_candidates:
            problems.append(too_many(limits))
            break
        places.append(candidate.source)
        signer, problem = attempt(
            partial(_verify_one, candidate, image_digest, policy, material, limits)
        )
        if problem is not None:
            problems.append(problem_line(candidate.source, problem, limits))
        elif signer is not None and signer not in signers:
            signers.append(signer)
            if len(signers) >= policy.threshold:
                break
    return SignatureEvidence(
        signers=tuple(signers),
        looked_at=unique(places),
        problems=bounded(problems, limits.max_problems),
    )


def _verify_one(
    candidate: Candidate,
    image_digest: str,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits,
) -> str:
    if isinstance(candidate, LegacySignature):
        refuse_untimestamped(policy)
        return verify_legacy_signature(
            candidate.layer, candidate.payload, image_digest, policy, material, limits
        )
    return verify_bundle(candidate.bundle, image_digest, policy, material, limits)


def refuse_untimestamped(policy: SignaturePolicy) -> None:
    """``timestamps: required`` is met by Sigstore bundles only: gatekeeper reads no RFC 3161
    timestamp from legacy ``.sig``/``.att`` layers, so they cannot count."""
    if policy.timestamps == "required":
        raise SignatureRejected(
            "legacy cosign layers carry no verified RFC 3161 timestamp; the policy requires one"
        )


def attempt(check: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run one candidate's verification: its result, or None and why it does not count.

    Nothing escapes: a hostile artifact may make one candidate fail, never the admission.
    """
    try:
        return check(), None
    except SignatureRejected as exc:
        return None, exc.message
    except Exception as exc:  # noqa: BLE001 - fail closed on this candidate, never crash
        # Every known failure is translated where it happens; reaching this is a gatekeeper
        # bug met by a hostile or unusual artifact, so keep the traceback for the log.
        _log.warning("signature verification failed unexpectedly", exc_info=True)
        return None, f"could not be verified ({type(exc).__name__})"


def too_many(limits: TrustLimits, what: str = "signature artifacts") -> str:
    """The problem reported when candidates past ``limits.max_candidates`` were skipped."""
    return f"more than {limits.max_candidates} {what}; the rest were not examined"


def problem_line(source: str, problem: str, limits: TrustLimits) -> str:
    """``source: problem`` on one line (reasons end up in log lines and HTTP details)."""
    return " ".join(f"{source}: {problem}".split())[: limits.max_reason_chars]


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """``items`` without repeats, in first-seen order."""
    return tuple(dict.fromkeys(items))


def bounded(problems: Iterable[str], limit: int) -> tuple[str, ...]:
    """Distinct problems, at most ``limit`` of them and a line counting the rest."""
    distinct = unique(problems)
    if len(distinct) <= limit:
        return distinct
    return (*distinct[:limit], f"… and {len(distinct) - limit} more problems")

"""Combine every candidate signature found for one image into SignatureEvidence.

The gatherer (which does the registry I/O) hands in what it fetched: legacy ``.sig`` layers
with their payload blobs, and Sigstore bundles from referrers. Each candidate either yields a
trusted signer or a problem; nothing raised inside a verifier escapes from here (a hostile
artifact may make one candidate fail, never the admission machinery). Limits:
:mod:`gatekeeper.trust.limits`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gatekeeper.oci.manifest import Descriptor
from gatekeeper.policy.evidence import SignatureEvidence
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.bundles import verify_bundle
from gatekeeper.trust.cosign_legacy import verify_legacy_signature
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.material import TrustMaterial

_log = logging.getLogger(__name__)


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
            problems.append(
                f"more than {limits.max_candidates} signature artifacts; the rest were not examined"
            )
            break
        places.append(candidate.source)
        signer, problem = _verify_one(candidate, image_digest, policy, material, limits)
        if problem is not None:
            # One line each: reasons end up in log lines and HTTP error details.
            line = " ".join(f"{candidate.source}: {problem}".split())
            problems.append(line[: limits.max_reason_chars])
        elif signer is not None and signer not in signers:
            signers.append(signer)
            if len(signers) >= policy.threshold:
                break
    return SignatureEvidence(
        signers=tuple(signers),
        looked_at=_unique(places),
        problems=_bounded(problems, limits.max_problems),
    )


def _verify_one(
    candidate: Candidate,
    image_digest: str,
    policy: SignaturePolicy,
    material: TrustMaterial,
    limits: TrustLimits,
) -> tuple[str | None, str | None]:
    try:
        if isinstance(candidate, LegacySignature):
            signer = verify_legacy_signature(
                candidate.layer, candidate.payload, image_digest, policy, material, limits
            )
        else:
            signer = verify_bundle(candidate.bundle, image_digest, policy, material, limits)
    except SignatureRejected as exc:
        return None, exc.message
    except Exception as exc:  # noqa: BLE001 - fail closed on this candidate, never crash
        # Every known failure is translated where it happens; reaching this is a gatekeeper
        # bug met by a hostile or unusual artifact, so keep the traceback for the log.
        _log.warning("signature verification failed unexpectedly", exc_info=True)
        return None, f"could not be verified ({type(exc).__name__})"
    return signer, None


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _bounded(problems: list[str], limit: int) -> tuple[str, ...]:
    unique = _unique(problems)
    if len(unique) <= limit:
        return unique
    return (*unique[:limit], f"… and {len(unique) - limit} more problems")

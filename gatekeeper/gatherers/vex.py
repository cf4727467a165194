"""Signed OpenVEX statements about an image, read from the registry, for ``scan.vex``.

OpenVEX documents travel as in-toto attestations (``vexctl attest``, ``cosign attest --type
openvex``) whose predicate is the document: DSSE layers under ``sha256-<hex>.att`` or
Sigstore bundles as referrers, found by :class:`RegistryArtifacts` like every attestation.
Two predicate types are in use: ``https://openvex.dev/ns`` (cosign, go-vex ``TypeURI``) and
``https://openvex.dev/ns/v0.2.0`` (vexctl's layer annotation). Each must be signed by the
rule's ``scan.vex.signers`` and name the image digest as its subject; only statements whose
product names the digest count (:mod:`gatekeeper.scans.openvex`).

:class:`WithVex` wraps the scan gatherer: the verdict and the VEX statements are read
concurrently and travel together in :class:`ScanEvidence`. VEX that cannot be read answers
nothing (the findings keep blocking): failing closed here means not suppressing.
Cached like attestations: found statements for ``positive_ttl`` seconds, none for
``negative_ttl``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from gatekeeper.admission.evidence import ScanGatherer, Subject
from gatekeeper.errors import GatekeeperError
from gatekeeper.gatherers.artifacts import ArtifactKind, Discovery, RegistryArtifacts
from gatekeeper.gatherers.materials import compiled_material
from gatekeeper.gatherers.verdict_memo import SignatureCacheConfig, VerdictMemo
from gatekeeper.policy.evidence import ScanEvidence
from gatekeeper.policy.model import ScanPolicy, SignaturePolicy
from gatekeeper.policy.vex_evidence import VexEvidence, VexStatement
from gatekeeper.policy.vex_model import VexPolicy
from gatekeeper.scans.openvex import VEX_PREDICATES, VexProblem, image_statements
from gatekeeper.trust.attestations import DSSE_MEDIA_TYPE, evaluate_attestations
from gatekeeper.trust.limits import DEFAULT_LIMITS, TrustLimits
from gatekeeper.trust.verify import bounded
from gatekeeper.upstream.client import Upstream

log = logging.getLogger("gatekeeper.vex")

SHOWN_PROBLEMS = 2
CacheKey = tuple[str, VexPolicy]


class RegistryVex:
    """``await vex(subject, policy) -> VexEvidence``: trusted statements about the image."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        limits: TrustLimits = DEFAULT_LIMITS,
        cache: SignatureCacheConfig | None = None,
    ) -> None:
        cache = cache or SignatureCacheConfig()
        self._artifacts = RegistryArtifacts(upstream, limits.max_candidates)
        self._kind = ArtifactKind(
            tag_suffix=".att",
            layer_media_type=DSSE_MEDIA_TYPE,
            predicate_type=VEX_PREDICATES[0],
            also_predicate_types=VEX_PREDICATES[1:],
            max_layer_bytes=limits.max_attestation_bytes,
            max_bundle_bytes=limits.max_attestation_bytes,
        )
        self._limits = limits
        self._memo: VerdictMemo[CacheKey, VexEvidence] = VerdictMemo(cache)
        self.verifications = 0

    async def __call__(self, subject: Subject, policy: VexPolicy) -> VexEvidence:
        key = (subject.digest, policy)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        return await self._memo.run(key, lambda: self._verify(subject, policy, key))

    async def _verify(self, subject: Subject, policy: VexPolicy, key: CacheKey) -> VexEvidence:
        self.verifications += 1
        found = await self._artifacts.discover(subject, self._kind, policy.signers.repository)
        evidence = await asyncio.to_thread(
            read_vex, found, subject.digest, policy.signers, self._limits
        )
        self._memo.keep(key, evidence, passed=bool(evidence.statements))
        return evidence


def read_vex(
    found: Discovery, digest: str, signers: SignaturePolicy, limits: TrustLimits = DEFAULT_LIMITS
) -> VexEvidence:
    """Verify ``found`` under ``signers`` and read the statements about ``digest``."""
    material = compiled_material(signers)
    verified = evaluate_attestations(
        found.candidates,
        digest,
        frozenset(VEX_PREDICATES),
        signers,
        material,
        looked_at=found.looked_at,
        limits=limits,
    )
    statements: list[VexStatement] = []
    problems = [*found.problems, *verified.problems]
    for attestation in verified.statements:
        predicate = attestation.statement.get("predicate")
        try:
            about, skipped = image_statements(
                predicate, digest, attestation.source, attestation.signer
            )
        except VexProblem as exc:
            problems.append(f"{attestation.source}: {exc}")
            continue
        statements.extend(about)
        problems.extend(skipped)
    problems = list(bounded(problems, limits.max_problems))
    for problem in problems:
        log.debug("VEX for %s does not count: %s", digest, problem)
    return VexEvidence(tuple(statements), _note(len(found.candidates), statements, problems))


def _note(candidates: int, statements: list[VexStatement], problems: list[str]) -> str:
    if not problems:
        return "" if statements or candidates else "no VEX attestations found"
    shown = "; ".join(problems[:SHOWN_PROBLEMS])
    more = f"; … and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > 2 else ""
    return f"not counted: {shown}{more}"


class WithVex:
    """A ScanGatherer: the wrapped one's verdict, plus VEX when the rule asks for it."""

    def __init__(self, scan: ScanGatherer, vex: RegistryVex) -> None:
        self._scan = scan
        self._vex = vex

    async def __call__(
        self, subject: Subject, policy: ScanPolicy, signatures: SignaturePolicy | None = None
    ) -> ScanEvidence:
        if policy.vex is None:
            return await self._scan(subject, policy, signatures)
        scan, vex = await asyncio.gather(
            self._scan(subject, policy, signatures),
            self._vex(subject, policy.vex),
            return_exceptions=True,
        )
        if isinstance(scan, BaseException):
            raise scan
        if isinstance(vex, GatekeeperError):
            log.warning("VEX for %s@%s failed: %s", subject.repository, subject.digest, vex.message)
            vex = VexEvidence((), f"not read: {vex.message}")
        elif isinstance(vex, BaseException):
            if not isinstance(vex, Exception):
                raise vex
            log.error("VEX gatherer crashed for %s@%s: %r", subject.repository, subject.digest, vex)
            vex = VexEvidence((), f"not read ({type(vex).__name__})")
        return replace(scan, vex=vex)

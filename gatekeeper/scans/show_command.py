"""``gatekeeper verdicts show REF|DIGEST``: which verdict applies, and does it pass.

A REF (``repo:tag`` / ``repo@digest``) is resolved to its manifest digest through the
upstream with gatekeeper's own credentials; a bare digest needs no upstream. Verdicts come
from the report directory and, with ``--redis``, the shared cache (the newest wins, as when
serving). The scan policy is the matching rule's when ``--policy`` is given, else the
default (a verdict is required; CRITICAL refuses). When that rule has ``scan.vex``, the signed
OpenVEX statements about the image are read from the upstream (a REF is needed) and the
report says which statement answered which finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gatekeeper.config import Settings
from gatekeeper.errors import ConfigError
from gatekeeper.oci.grammar import DIGEST_RE, check_digest
from gatekeeper.policy.evidence import ScanVerdict
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.model import ScanPolicy
from gatekeeper.policy.scan_checks import check_scan
from gatekeeper.policy.vex_evidence import VexEvidence
from gatekeeper.policy.vex_model import VexPolicy
from gatekeeper.scans.cache import VerdictCache
from gatekeeper.scans.directory import VerdictDirectory
from gatekeeper.scans.show import show_verdict


@dataclass(frozen=True, slots=True)
class Report:
    text: str
    passes: bool


async def verdict_report(target: str, settings: Settings) -> Report:
    repository, digest = await _resolve(target, settings)
    scan = _scan_policy(settings, repository)
    found: list[ScanVerdict] = []
    looked: list[str] = []
    if settings.verdicts is not None:
        directory = VerdictDirectory(settings.verdicts)
        await directory.refresh()
        looked.append(f"reports in {settings.verdicts}")
        if (verdict := directory.lookup(digest)) is not None:
            found.append(verdict)
    if settings.redis:
        cache = VerdictCache(settings.redis)
        try:
            looked.append("the shared cache")
            if (verdict := await cache.get(digest)) is not None:
                found.append(verdict)
        finally:
            await cache.close()
    if not looked:
        raise ConfigError("give --verdicts DIR (and/or --redis URL) to look for verdicts")
    newest = max(found, key=lambda v: v.created or datetime.min.replace(tzinfo=UTC), default=None)
    now = datetime.now(UTC)
    vex = None if scan.vex is None else await _read_vex(settings, repository, digest, scan.vex)
    text = show_verdict(
        newest, scan, now, digest=digest, repository=repository, note=", ".join(looked), vex=vex
    )
    passes = _passes(newest, scan, digest, repository, now, ", ".join(looked), vex)
    return Report(text, passes)


async def _read_vex(
    settings: Settings, repository: str | None, digest: str, policy: VexPolicy
) -> VexEvidence:
    """The trusted OpenVEX statements about ``digest``, read as the gate reads them."""
    if repository is None or not settings.upstream:
        return VexEvidence((), "not read: give a REF and --upstream to read signed VEX")
    from gatekeeper.admission.evidence import Subject
    from gatekeeper.errors import GatekeeperError
    from gatekeeper.gatherers.vex import RegistryVex
    from gatekeeper.oci.manifest import parse_manifest
    from gatekeeper.upstream.pool import build_upstreams
    from gatekeeper.upstream.reads import fetch_manifest

    upstream, _ = build_upstreams(settings)
    try:
        fetched = await fetch_manifest(upstream, repository, digest, settings.limits.manifest_bytes)
        manifest = parse_manifest(fetched.data, fetched.content_type)
        subject = Subject(repository, digest, manifest, fetched.data)
        return await RegistryVex(upstream)(subject, policy)
    except GatekeeperError as exc:
        return VexEvidence((), f"not read: {exc.message}")
    finally:
        await upstream.session.close()


async def _resolve(target: str, settings: Settings) -> tuple[str | None, str]:
    if DIGEST_RE.fullmatch(target):
        return None, check_digest(target)
    from gatekeeper.evaluate import parse_reference
    from gatekeeper.upstream.pool import build_upstreams
    from gatekeeper.upstream.reads import fetch_manifest

    if not settings.upstream:
        raise ConfigError("resolving a REF needs --upstream (or pass a digest)")
    ref = parse_reference(target)
    upstream, _ = build_upstreams(settings)
    try:
        fetched = await fetch_manifest(
            upstream, ref.repository, ref.reference, settings.limits.manifest_bytes
        )
    finally:
        await upstream.session.close()
    return ref.repository, fetched.digest


def _scan_policy(settings: Settings, repository: str | None) -> ScanPolicy:
    if not settings.policy_paths:
        return ScanPolicy()
    rule = load_policy(settings.policy_paths).match(repository or "")
    return rule.scan if rule is not None and rule.scan is not None else ScanPolicy()


def _passes(
    verdict: ScanVerdict | None,
    scan: ScanPolicy,
    digest: str,
    repository: str | None,
    now: datetime,
    note: str,
    vex: VexEvidence | None = None,
) -> bool:
    from gatekeeper.policy.evidence import AdmissionRequest, ScanEvidence
    from gatekeeper.policy.model import Action

    request = AdmissionRequest(Action.PULL, repository or "", digest, digest, "", now)
    return not check_scan(scan, ScanEvidence(verdict, note, vex), request).refusals

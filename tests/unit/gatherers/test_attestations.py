"""RegistryAttestations against an in-memory registry: verdicts, trust, notes, work not repeated."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.gatherers.attestations import NO_SIGNERS, RegistryAttestations
from gatekeeper.policy.evidence import ScanVerdict
from gatekeeper.policy.model import ScanPolicy, SignaturePolicy
from gatekeeper.scans.cache import VerdictCache
from gatekeeper.scans.gatherer import Found, ScanVerdicts, VerdictSource
from gatekeeper.trust.errors import TrustError
from gatekeeper.trust.keys import load_public_key
from gatekeeper.trust.material import TrustMaterial, trust_material
from gatekeeper.trust.trusted_root import TrustedRoot, load_trusted_root
from gatekeeper.upstream.client import Upstream
from tests.helpers import attest, cosign_sign
from tests.helpers.fake_sigstore import FakeSigstore
from tests.helpers.images import OCI_MANIFEST
from tests.unit.gatherers.conftest import FakeRegistry
from tests.unit.scans.conftest import subject

TRIVY = Path(__file__).resolve().parents[2] / "assets" / "trivy"
DEBIAN = json.loads((TRIVY / "debian-buster.json").read_bytes())  # CRITICAL CVE-2019-18224
ALPINE = json.loads((TRIVY / "alpine-310-registry.json").read_bytes())  # MEDIUM only
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SCAN = ScanPolicy(deny_severities=("CRITICAL",))
TRUSTED = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())
ROOT: TrustedRoot = load_trusted_root(FakeSigstore().trusted_root(), "fake root")
KEYS = {
    Path("/keys/trusted.pub"): TRUSTED,
    Path("/keys/stranger.pub"): STRANGER,
}


def compiled(*paths: Path) -> SignaturePolicy:
    """A SignaturePolicy with its material, as the policy loader compiles it (no files)."""
    keys = tuple(load_public_key(cosign_sign.public_key_pem(KEYS[p]), str(p)) for p in paths)
    return SignaturePolicy(keys=paths, material=trust_material(keys, ROOT))


TRUST = compiled(Path("/keys/trusted.pub"))
OTHERS = compiled(Path("/keys/stranger.pub"))


def material(policy: SignaturePolicy) -> TrustMaterial:
    assert policy.material is not None
    return policy.material


def source(upstream: Upstream) -> RegistryAttestations:
    return RegistryAttestations(upstream, clock=lambda: NOW)


def publish(
    registry: FakeRegistry,
    repo: str,
    digest: str,
    *layers: attest.AttestationLayer,
) -> None:
    art = attest.attestation_manifest(list(layers))
    registry.put_blobs(art.blobs)
    registry.put_manifest(repo, attest.attestation_tag(digest), art.manifest, OCI_MANIFEST)


def layer(
    digest: str,
    report: dict[str, Any],
    key: ec.EllipticCurvePrivateKey = TRUSTED,
    finished: datetime = NOW - timedelta(days=1),
    predicate_type: str = attest.VULN,
) -> attest.AttestationLayer:
    predicate = attest.vuln_predicate(report, finished=finished)
    statement = attest.vuln_statement(digest, "registry.test/team/app", predicate)
    return attest.keyed_layer(statement, key, predicate_type=predicate_type)


async def test_a_trusted_attestation_is_the_verdict(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="trusted")
    publish(registry, image.repository, image.digest, layer(image.digest, DEBIAN))
    found = await source(upstream).find(image, SCAN, TRUST)
    assert found.verdict is not None and found.note == ""
    assert found.verdict.digest == image.digest
    assert found.verdict.created == NOW - timedelta(days=1)
    assert "CVE-2019-18224" in {f.id for f in found.verdict.findings}
    tag = attest.attestation_tag(image.digest)
    key_id = material(TRUST).keys[0].short_id
    assert found.verdict.source.startswith(f"attestation {tag} (signed by key {key_id}; trust")


async def test_without_a_signatures_section_nothing_is_read(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="unsigned rule")
    publish(registry, image.repository, image.digest, layer(image.digest, DEBIAN))
    found = await source(upstream).find(image, SCAN, None)
    assert found.verdict is None and found.note == NO_SIGNERS
    assert not registry.requests


async def test_an_untrusted_attestation_is_noted_and_not_asked_again_at_once(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="stranger")
    publish(registry, image.repository, image.digest, layer(image.digest, DEBIAN, STRANGER))
    attestations = source(upstream)
    found = await attestations.find(image, SCAN, TRUST)
    tag = attest.attestation_tag(image.digest)
    assert found.verdict is None
    assert found.note.startswith(f"1 found, none counted: tag {tag}: signed, but not by a trusted")
    assert await attestations.find(image, SCAN, TRUST) == found
    assert attestations.verifications == 1  # the miss was remembered briefly
    await attestations.find(image, SCAN, OTHERS)  # other signers: another question
    assert attestations.verifications == 2


async def test_nothing_attached_says_where_it_looked(upstream: Upstream) -> None:
    image = subject(label="bare")
    found = await source(upstream).find(image, SCAN, TRUST)
    tag = attest.attestation_tag(image.digest)
    assert found == Found(None, f"none in tag {tag}, referrers")


async def test_concurrent_lookups_verify_once(registry: FakeRegistry, upstream: Upstream) -> None:
    image = subject(label="flight")
    publish(registry, image.repository, image.digest, layer(image.digest, ALPINE))
    attestations = source(upstream)
    answers = await asyncio.gather(*(attestations.find(image, SCAN, TRUST) for _ in range(10)))
    assert attestations.verifications == 1
    assert all(a == answers[0] and a.verdict is not None for a in answers)
    tag_path = f"/v2/{image.repository}/manifests/{attest.attestation_tag(image.digest)}"
    assert registry.requests[tag_path] == 1


async def test_the_latest_scan_wins_and_other_predicates_are_not_downloaded(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="rescanned")
    old = layer(image.digest, DEBIAN, finished=NOW - timedelta(days=9))
    new = layer(image.digest, ALPINE, finished=NOW - timedelta(hours=1))
    sbom = layer(image.digest, ALPINE, predicate_type="https://spdx.dev/Document")
    publish(registry, image.repository, image.digest, old, sbom, new)
    found = await source(upstream).find(image, SCAN, TRUST)
    assert found.verdict is not None and found.verdict.created == NOW - timedelta(hours=1)
    assert {f.severity for f in found.verdict.findings} == {"MEDIUM"}
    assert registry.requests[f"/v2/{image.repository}/blobs/{sbom.digest}"] == 0
    assert registry.requests[f"/v2/{image.repository}/blobs/{new.digest}"] == 1


async def test_accepts_only_verdicts_verified_under_the_same_trust(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="scope")
    publish(registry, image.repository, image.digest, layer(image.digest, DEBIAN))
    attestations = source(upstream)
    found = await attestations.find(image, SCAN, TRUST)
    assert found.verdict is not None
    assert await attestations.accepts(found.verdict, TRUST)
    assert await attestations.accepts(found.verdict, compiled(*TRUST.keys))  # recompiled
    assert not await attestations.accepts(found.verdict, SignaturePolicy(keys=TRUST.keys))
    assert not await attestations.accepts(found.verdict, OTHERS)
    assert not await attestations.accepts(found.verdict, None)
    scanner = ScanVerdict(image.digest, "scanner http://s", NOW, ())
    assert await attestations.accepts(scanner, None)


async def test_a_cached_attestation_verdict_does_not_serve_a_rule_trusting_others(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="two rules")
    publish(registry, image.repository, image.digest, layer(image.digest, DEBIAN))
    attestations: VerdictSource = source(upstream)
    gatherer = ScanVerdicts(VerdictCache(), sources=[attestations], clock=lambda: NOW)
    trusting = await gatherer(image, SCAN, TRUST)
    assert trusting.verdict is not None
    assert (await gatherer(image, SCAN, OTHERS)).verdict is None
    assert (await gatherer(image, SCAN, None)).verdict is None
    assert (await gatherer(image, SCAN, TRUST)).verdict == trusting.verdict


async def test_an_oversized_layer_is_refused_unfetched(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="huge")
    real = layer(image.digest, DEBIAN)
    art = attest.attestation_manifest([real])
    manifest = json.loads(art.manifest)
    manifest["layers"][0]["size"] = 17 * 1024 * 1024  # more than max_attestation_bytes (16 MiB)
    registry.put_blobs(art.blobs)
    registry.put_manifest(
        image.repository,
        attest.attestation_tag(image.digest),
        json.dumps(manifest).encode(),
        OCI_MANIFEST,
    )
    found = await source(upstream).find(image, SCAN, TRUST)
    assert found.verdict is None
    assert "payload is larger than 16777216 bytes" in found.note
    assert registry.requests[f"/v2/{image.repository}/blobs/{real.digest}"] == 0


async def test_a_policy_without_compiled_material_trusts_nothing(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="bare")
    publish(registry, image.repository, image.digest, layer(image.digest, DEBIAN))
    hand_built = SignaturePolicy(keys=TRUST.keys)  # paths only: nothing was parsed
    with pytest.raises(TrustError, match="no trust material"):
        await source(upstream).find(image, SCAN, hand_built)
    assert (
        registry.requests[
            f"/v2/{image.repository}/manifests/{attest.attestation_tag(image.digest)}"
        ]
        == 0
    )

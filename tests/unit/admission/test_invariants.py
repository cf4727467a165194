"""The gate's invariant, over generated manifests (hypothesis), through the real admit/record.

In enforce mode: no runnable manifest that fails its rule is admitted; a manifest that is
refused opens nothing (no blobs, no children); only an image index that passed its rule lets
children inherit, and then only its signature; every refusal carries a reason and a code.

The policy requires a trusted signature and a clean verdict. The fake gatherers sign a
generated subset of digests and give a generated subset a CRITICAL verdict: the point is
the decision around them, which runs for real.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper.admission.admit import Admission, admit_manifest, record
from gatekeeper.admission.decision_log import DecisionLog
from gatekeeper.admission.deps import Deps
from gatekeeper.admission.evidence import Gatherers, Subject
from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.config import Settings
from gatekeeper.oci import media_types as mt
from gatekeeper.oci.digest import sha256_digest
from gatekeeper.oci.manifest import parse_manifest
from gatekeeper.policy.artifacts import ManifestClass, is_runnable
from gatekeeper.policy.evidence import (
    Finding,
    ScanEvidence,
    ScanVerdict,
    SignatureEvidence,
)
from gatekeeper.policy.model import (
    Action,
    Mode,
    Outcome,
    Policy,
    Rule,
    ScanPolicy,
    SignaturePolicy,
    TagPolicy,
)
from gatekeeper.state.admissions import MemoryAdmissionStore
from gatekeeper.upstream.client import Upstream

NOW = datetime(2026, 12, 1, tzinfo=UTC)
LAYER_TYPES = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.dev.cosign.simplesigning.v1+json",
    "application/vnd.dsse.envelope.v1+json",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.in-toto+json",
    "application/octet-stream",
    "text/spdx",
    "application/x-tar",
]
CONFIG_TYPES = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.empty.v1+json",
    "application/vnd.dev.cosign.artifact.sig.v1+json",
]
TAGS = [
    None,
    "latest",
    "1.0.0",
    "v2.3.4",
    "sha256-" + "a" * 64,
    "sha256-" + "a" * 64 + ".sig",
    "sha256-" + "a" * 64 + ".att",
    "sha256-" + "a" * 64 + ".sbom",
]
HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
DIGESTS = HEX.map(lambda h: "sha256:" + h)


def descriptor(media_type: str, digest: str) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": 1}


@st.composite
def extras(draw: st.DrawFn) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        extra["subject"] = descriptor(mt.OCI_MANIFEST, draw(DIGESTS))
    if draw(st.booleans()):
        extra["artifactType"] = draw(st.sampled_from(["application/vnd.example", "x/y"]))
    return extra


@st.composite
def image_manifests(draw: st.DrawFn) -> bytes:
    docker = draw(st.booleans())
    layers = draw(st.lists(st.sampled_from(LAYER_TYPES), max_size=4))
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
        "config": descriptor(draw(st.sampled_from(CONFIG_TYPES)), draw(DIGESTS)),
        "layers": [descriptor(layer, draw(DIGESTS)) for layer in layers],
        **draw(extras()),
    }
    return json.dumps(doc).encode()


@st.composite
def indexes(draw: st.DrawFn, children: list[bytes]) -> bytes:
    docker = draw(st.booleans())
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX,
        "manifests": [descriptor(mt.OCI_MANIFEST, sha256_digest(child)) for child in children],
        **draw(extras()),
    }
    return json.dumps(doc).encode()


@dataclass
class World:
    """Which digests carry a trusted signature and which a CRITICAL verdict."""

    signed: set[str] = field(default_factory=set)
    critical: set[str] = field(default_factory=set)

    async def signatures(self, subject: Subject, policy: SignaturePolicy) -> SignatureEvidence:
        if subject.digest in self.signed:
            return SignatureEvidence(("key-1",))
        return SignatureEvidence((), problems=("no signature found",))

    async def scan(
        self, subject: Subject, policy: ScanPolicy, signatures: SignaturePolicy | None
    ) -> ScanEvidence:
        findings = (Finding("CVE-1", "openssl", "1", "2", "CRITICAL"),)
        if subject.digest in self.critical:
            return ScanEvidence(ScanVerdict(subject.digest, "trivy", NOW, findings))
        return ScanEvidence(ScanVerdict(subject.digest, "trivy", NOW, ()))


RULE = Rule(
    "team",
    ("**",),
    (__import__("re").compile(".*"),),
    tags=TagPolicy(deny=("latest",)),
    signatures=SignaturePolicy(),
    scan=ScanPolicy(),
)


class FixedPolicy(PolicyStore):
    def __init__(self) -> None:  # no files: the compiled policy is given
        self.current = Policy(Mode.ENFORCE, (RULE,), "sha256:fixed")


def make_deps(tmp: Path, session: aiohttp.ClientSession, world: World) -> Deps:
    settings_ = Settings(upstream="http://registry.invalid", policy_paths=())
    return Deps(
        settings=settings_,
        upstream=Upstream(settings_.upstream, session),
        policies=FixedPolicy(),
        admissions=MemoryAdmissionStore(3600, 100_000),
        decisions=DecisionLog(tmp / "decisions.jsonl"),
        gatherers=Gatherers(signatures=world.signatures, scan=world.scan),
        clock=lambda: NOW,
    )


async def pull(deps: Deps, body: bytes, tag: str | None) -> Admission:
    digest = sha256_digest(body)
    admission = await admit_manifest(
        deps, Action.PULL, "team/app", tag or digest, digest, body, None
    )
    await record(deps, admission)
    return admission


async def opened(deps: Deps, body: bytes) -> set[str]:
    """Which of the manifest's blobs and children are open now."""
    manifest = parse_manifest(body)
    fingerprint = deps.policies.current.fingerprint
    found = set()
    for digest in manifest.blob_digests:
        if await deps.admissions.blob_opened("team/app", digest, fingerprint):
            found.add("blob " + digest)
    for digest in manifest.child_digests:
        if await deps.admissions.parent_of("team/app", digest, fingerprint):
            found.add("child " + digest)
    return found


def check(admission: Admission, world: World) -> None:
    decision = admission.decision
    if decision.outcome is Outcome.DENY:
        assert decision.reasons and decision.codes, decision
        return
    manifest = admission.manifest
    assert manifest is not None
    request = admission.request
    if not manifest.is_index and is_runnable(manifest):
        # A runnable image is admitted only when signed itself or through its index.
        assert request.digest in world.signed or request.inherited_from in world.signed
        assert request.digest not in world.critical
        assert request.tag != "latest"


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    data=st.data(),
    children=st.lists(image_manifests(), min_size=1, max_size=3),
)
def test_no_refused_runnable_manifest_is_admitted_or_opens_anything(
    tmp_path: Path, data: st.DataObject, children: list[bytes]
) -> None:
    index = data.draw(indexes(children))
    digests = [sha256_digest(body) for body in (index, *children)]
    world = World(
        signed=set(data.draw(st.lists(st.sampled_from(digests), unique=True))),
        critical=set(data.draw(st.lists(st.sampled_from(digests), unique=True))),
    )
    index_tag = data.draw(st.sampled_from(TAGS))
    child_tags = [data.draw(st.sampled_from(TAGS)) for _ in children]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            deps = make_deps(tmp_path, session, world)
            before = await opened(deps, index)
            admitted_index = await pull(deps, index, index_tag)
            check(admitted_index, world)
            if await opened(deps, index) - before:
                # Only an image index that passed its rule (signed, clean) opens children.
                assert admitted_index.request.manifest_class is ManifestClass.INDEX
                assert admitted_index.decision.outcome is Outcome.ALLOW
                assert admitted_index.request.digest in world.signed
            for child, tag in zip(children, child_tags, strict=True):
                before = await opened(deps, child)
                admission = await pull(deps, child, tag)
                check(admission, world)
                if admission.decision.outcome is Outcome.DENY:
                    # (Blobs another admitted manifest lists may be open already.)
                    assert await opened(deps, child) == before

    asyncio.run(scenario())


@SETTINGS
@given(
    body=image_manifests(),
    tag=st.sampled_from(TAGS),
    action=st.sampled_from([Action.PULL, Action.PUSH]),
)
def test_a_runnable_manifest_under_an_artifact_tag_is_always_refused(
    tmp_path: Path, body: bytes, tag: str | None, action: Action
) -> None:
    manifest = parse_manifest(body)
    world = World(signed={sha256_digest(body)})

    async def scenario() -> Admission:
        async with aiohttp.ClientSession() as session:
            deps = make_deps(tmp_path, session, world)
            digest = sha256_digest(body)
            return await admit_manifest(deps, action, "team/app", tag or digest, digest, body, None)

    admission = asyncio.run(scenario())
    if tag is not None and tag.startswith("sha256-") and is_runnable(manifest):
        assert admission.decision.codes == ("artifact-tag-runnable",)

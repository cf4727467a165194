"""admit(): the decision for manifest bytes, with counting and misbehaving gatherers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gatekeeper.admission.admit import admit_manifest, record
from gatekeeper.admission.decision_log import DecisionLog
from gatekeeper.admission.deps import Deps
from gatekeeper.admission.evidence import Gatherers, Subject
from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.config import Settings
from gatekeeper.oci.digest import sha256_digest
from gatekeeper.policy.evidence import ImageFacts
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.model import Action, ImagePolicy, Outcome
from gatekeeper.state.admissions import MemoryAdmissionStore
from gatekeeper.upstream.client import Upstream

POLICY = 'rules: [{name: hardened, repositories: ["**"], image: {user: non-root}}]\n'
LAYER = "sha256:" + "2" * 64
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "1" * 64,
            "size": 2,
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": LAYER, "size": 3}
        ],
    }
).encode()
DIGEST = sha256_digest(MANIFEST)


class CountingImages:
    def __init__(self, facts: Any) -> None:
        self.facts = facts
        self.calls = 0

    async def __call__(self, subject: Subject, policy: ImagePolicy) -> ImageFacts:
        self.calls += 1
        return self.facts  # type: ignore[no-any-return]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def deps_with(tmp_path: Path, session: aiohttp.ClientSession, images: CountingImages) -> Deps:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    settings = Settings(upstream="http://registry.invalid", policy_paths=(policy,))
    return Deps(
        settings=settings,
        upstream=Upstream(settings.upstream, session),
        policies=PolicyStore((policy,), load_policy, dry_run=False),
        admissions=MemoryAdmissionStore(60, 100),
        decisions=DecisionLog(tmp_path / "decisions.jsonl"),
        gatherers=Gatherers(image=images),
    )


async def test_evidence_decides_and_allowed_pulls_open_their_blobs(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    images = CountingImages(ImageFacts(user="1000"))
    deps = deps_with(tmp_path, session, images)
    admission = await admit_manifest(deps, Action.PULL, "team/app", "1.0.0", DIGEST, MANIFEST, None)
    assert admission.decision.outcome is Outcome.ALLOW
    assert images.calls == 1
    await record(deps, admission)
    assert await deps.admissions.blob_opened("team/app", LAYER, deps.policies.current.fingerprint)
    rooted = deps_with(tmp_path, session, CountingImages(ImageFacts(user="root")))
    refused = await admit_manifest(rooted, Action.PULL, "team/app", "1.0.0", DIGEST, MANIFEST, None)
    assert refused.decision.outcome is Outcome.DENY
    await record(rooted, refused)
    assert not await rooted.admissions.blob_opened(
        "team/app", LAYER, rooted.policies.current.fingerprint
    )


async def test_push_gathers_no_evidence(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    images = CountingImages(ImageFacts(user="root"))
    admission = await admit_manifest(
        deps_with(tmp_path, session, images),
        Action.PUSH,
        "team/app",
        "1.0.0",
        DIGEST,
        MANIFEST,
        None,
    )
    assert admission.decision.outcome is Outcome.ALLOW
    assert images.calls == 0


async def test_a_broken_check_refuses_instead_of_crashing(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    # A gatherer handing back the wrong kind of value makes the check itself fail.
    images = CountingImages(object())
    admission = await admit_manifest(
        deps_with(tmp_path, session, images),
        Action.PULL,
        "team/app",
        "1.0.0",
        DIGEST,
        MANIFEST,
        None,
    )
    assert admission.decision.outcome is Outcome.DENY
    assert admission.decision.reasons[0].startswith("internal error while deciding")


async def test_unparseable_manifest_is_a_refusal(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    deps = deps_with(tmp_path, session, CountingImages(ImageFacts(user="1000")))
    body = b'{"schemaVersion": 1}'
    admission = await admit_manifest(
        deps, Action.PULL, "team/app", "1.0.0", sha256_digest(body), body, None
    )
    assert admission.decision.outcome is Outcome.DENY
    assert "schema 1" in admission.decision.reasons[0]
    assert admission.manifest is None

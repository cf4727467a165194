"""RegistrySignatures verifies with the trust material compiled with the policy, never re-read."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.gatherers.signatures import RegistrySignatures
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.errors import TrustError
from gatekeeper.upstream.client import Upstream
from tests.helpers import cosign_sign
from tests.helpers.images import OCI_MANIFEST
from tests.unit.gatherers.conftest import FakeRegistry
from tests.unit.scans.conftest import subject

TRUSTED = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())


def compiled_policy(tmp_path: Path) -> SignaturePolicy:
    (tmp_path / "cosign.pub").write_bytes(cosign_sign.public_key_pem(TRUSTED))
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        'rules: [{name: s, repositories: ["**"], signatures: {keys: [cosign.pub]}}]\n'
    )
    signatures = load_policy([policy]).rules[0].signatures
    assert signatures is not None and signatures.material is not None
    return signatures


def publish(registry: FakeRegistry, repo: str, digest: str) -> None:
    sig = cosign_sign.sign_image(digest, f"registry.test/{repo}", TRUSTED)
    registry.put_blobs(sig.blobs)
    registry.put_manifest(repo, cosign_sign.signature_tag(digest), sig.manifest, OCI_MANIFEST)


async def test_verifies_with_the_compiled_material_even_after_the_key_file_changes(
    tmp_path: Path, registry: FakeRegistry, upstream: Upstream
) -> None:
    policy = compiled_policy(tmp_path)
    image = subject(label="compiled")
    publish(registry, image.repository, image.digest)
    # What the gate runs with is what the policy fingerprint names: a replaced key file
    # takes effect through a policy reload (the store watches it), not behind its back.
    (tmp_path / "cosign.pub").write_bytes(cosign_sign.public_key_pem(STRANGER))
    evidence = await RegistrySignatures(upstream)(image, policy)
    assert len(evidence.signers) == 1
    assert evidence.problems == ()


async def test_a_recompiled_policy_with_another_key_is_another_question(
    tmp_path: Path, registry: FakeRegistry, upstream: Upstream
) -> None:
    before = compiled_policy(tmp_path)
    image = subject(label="rotated")
    publish(registry, image.repository, image.digest)
    gatherer = RegistrySignatures(upstream)
    assert len((await gatherer(image, before)).signers) == 1
    (tmp_path / "cosign.pub").write_bytes(cosign_sign.public_key_pem(STRANGER))
    after = load_policy([tmp_path / "policy.yaml"]).rules[0].signatures
    assert after is not None and after != before  # same paths, other material
    assert (await gatherer(image, after)).signers == ()
    assert gatherer.verifications == 2


async def test_a_policy_without_compiled_material_trusts_nothing(upstream: Upstream) -> None:
    hand_built = SignaturePolicy(keys=(Path("/nowhere/cosign.pub"),))
    with pytest.raises(TrustError, match="no trust material"):
        await RegistrySignatures(upstream)(subject(label="bare"), hand_built)

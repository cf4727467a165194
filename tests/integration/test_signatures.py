"""Signature admission through gatekeeper against a real registry (keyed cosign formats)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.admission.evidence import Subject
from gatekeeper.config import Limits
from gatekeeper.gatherers.signatures import RegistrySignatures
from gatekeeper.oci.manifest import parse_manifest
from gatekeeper.policy.loader import load_policy
from gatekeeper.upstream.client import Upstream
from tests.helpers import cosign_sign, images, signing
from tests.helpers.processes import Process, start_gatekeeper

TRUSTED = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("sigpolicy")
    (work / "cosign.pub").write_bytes(
        TRUSTED.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    policy = work / "policy.yaml"
    policy.write_text(
        "rules:\n"
        "  - name: signed-apps\n"
        '    repositories: ["signed/**"]\n'
        "    signatures:\n"
        '      keys: ["cosign.pub"]\n'
        "  - name: rest\n"
        '    repositories: ["**"]\n'
    )
    return policy


@pytest.fixture(scope="module")
def gate(
    tmp_path_factory: pytest.TempPathFactory, registry: Process, policy_file: Path
) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("siggate")
    process = start_gatekeeper(
        work, registry.url, policy_file, "--decision-log", str(work / "decisions.jsonl")
    )
    yield process
    process.stop()


def seed(tmp_path: Path, registry: Process, repo: str, label: str) -> images.Image:
    img = images.image(label + repo)
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    return img


def copy(tmp_path: Path, gate: Process, ref: str, *extra: str) -> tuple[int, str]:
    result = images.skopeo(
        "copy",
        *extra,
        "--src-tls-verify=false",
        f"docker://{gate.host}/{ref}",
        f"oci:{tmp_path / 'out'}:x",
        check=False,
    )
    return result.returncode, result.stderr


def test_signed_image_pulls(tmp_path: Path, registry: Process, gate: Process) -> None:
    img = seed(tmp_path, registry, "signed/app", "ok")
    signing.sign_and_push(registry.url, registry.host, "signed/app", img.digest, TRUSTED)
    code, err = copy(tmp_path, gate, "signed/app:1.0.0")
    assert code == 0, err


def test_unsigned_image_is_refused(tmp_path: Path, registry: Process, gate: Process) -> None:
    img = seed(tmp_path, registry, "signed/unsigned", "unsigned")
    code, err = copy(tmp_path, gate, "signed/unsigned:1.0.0")
    assert code != 0
    tag = img.digest.replace(":", "-") + ".sig"
    assert f"gatekeeper: signed-apps: no signature found (looked at tag {tag}, referrers)" in err


def test_wrong_key_is_refused(tmp_path: Path, registry: Process, gate: Process) -> None:
    img = seed(tmp_path, registry, "signed/wrongkey", "wrongkey")
    signing.sign_and_push(registry.url, registry.host, "signed/wrongkey", img.digest, STRANGER)
    code, err = copy(tmp_path, gate, "signed/wrongkey:1.0.0")
    assert code != 0
    assert "signed, but not by a trusted key (key ids: " in err


def test_tampered_payload_is_refused(tmp_path: Path, registry: Process, gate: Process) -> None:
    img = seed(tmp_path, registry, "signed/tampered", "tampered")
    layer = cosign_sign.sign_layer(img.digest, f"{registry.host}/signed/tampered", TRUSTED)
    # Change one byte of what was signed (the optional section), keep the signature.
    tampered = cosign_sign.SignatureLayer(
        layer.payload.replace(b'"optional":null', b'"optional":{}'), layer.annotations
    )
    assert tampered.payload != layer.payload
    signing.push_signature(
        registry.url, "signed/tampered", img.digest, cosign_sign.signature_manifest([tampered])
    )
    code, err = copy(tmp_path, gate, "signed/tampered:1.0.0")
    assert code != 0
    assert "signed, but not by a trusted key" in err


def test_signature_for_another_digest_is_refused(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    img = seed(tmp_path, registry, "signed/other", "other")
    elsewhere = "sha256:" + "ab" * 32
    sig = cosign_sign.sign_image(elsewhere, f"{registry.host}/signed/other", TRUSTED)
    signing.push_signature(registry.url, "signed/other", img.digest, sig)
    code, err = copy(tmp_path, gate, "signed/other:1.0.0")
    assert code != 0
    assert f"signature is for {elsewhere} not {img.digest}" in err


def test_key_based_bundle_referrer_is_accepted(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    img = seed(tmp_path, registry, "signed/bundled", "bundled")
    bundle = cosign_sign.dsse_bundle(TRUSTED, cosign_sign.sign_statement(img.digest))
    signing.push_bundle_referrer(
        registry.url,
        "signed/bundled",
        img.digest,
        len(img.manifest.data),
        images.OCI_MANIFEST,
        bundle,
    )
    code, err = copy(tmp_path, gate, "signed/bundled:1.0.0")
    assert code == 0, err


def test_signed_index_admits_its_children(tmp_path: Path, registry: Process, gate: Process) -> None:
    repo = "signed/multi"
    amd, arm = images.image("amd-signed"), images.image("arm-signed", arch="arm64")
    idx = images.index([amd, arm])
    layout = images.write_layout(tmp_path / "layout", [amd, arm], idx, "m")
    images.push_layout(layout, "m", f"{registry.host}/{repo}:2.0.0", all_images=True)
    # the child alone, by digest, before the index is admitted: unsigned, refused
    code, err = copy(tmp_path, gate, f"{repo}@{amd.digest}")
    assert code != 0
    assert "no signature found" in err
    signing.sign_and_push(registry.url, registry.host, repo, idx.digest, TRUSTED)
    code, err = copy(tmp_path, gate, f"{repo}:2.0.0", "--all")
    assert code == 0, err
    code, err = copy(tmp_path, gate, f"{repo}@{amd.digest}")  # inherits the index's admission
    assert code == 0, err


def test_signature_artifacts_are_readable_through_the_gate(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    """cosign verify through the gate reads .sig tags: tag rules must not lock them out."""
    img = seed(tmp_path, registry, "signed/readable", "readable")
    signing.sign_and_push(registry.url, registry.host, "signed/readable", img.digest, TRUSTED)
    tag = cosign_sign.signature_tag(img.digest)
    result = images.skopeo(
        "inspect",
        "--raw",
        "--tls-verify=false",
        f"docker://{gate.host}/signed/readable:{tag}",
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["layers"][0]["mediaType"] == cosign_sign.SIMPLE_SIGNING


async def test_concurrent_cold_pulls_verify_once(
    tmp_path: Path, registry: Process, policy_file: Path
) -> None:
    img = seed(tmp_path, registry, "signed/flight", "flight")
    signing.sign_and_push(registry.url, registry.host, "signed/flight", img.digest, TRUSTED)
    rule = load_policy([policy_file]).match("signed/flight")
    assert rule is not None and rule.signatures is not None
    upstream = Upstream.create(registry.url, Limits())
    try:
        gatherer = RegistrySignatures(upstream)
        subject = Subject(
            "signed/flight", img.digest, parse_manifest(img.manifest.data), img.manifest.data
        )
        results = await asyncio.gather(*(gatherer(subject, rule.signatures) for _ in range(20)))
        assert gatherer.verifications == 1
        assert all(len(r.signers) == 1 for r in results)
        again = await gatherer(subject, rule.signatures)  # warm: from the cache
        assert gatherer.verifications == 1
        assert again == results[0]
    finally:
        await upstream.close()


def test_a_signature_artifact_with_thousands_of_layers_is_refused_quickly(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    img = seed(tmp_path, registry, "signed/hostile", "hostile")
    bogus = cosign_sign.sign_layer(img.digest, f"{registry.host}/signed/hostile", STRANGER)
    signing.push_signature(
        registry.url, "signed/hostile", img.digest, cosign_sign.signature_manifest([bogus] * 3000)
    )
    started = time.monotonic()
    code, err = copy(tmp_path, gate, "signed/hostile:1.0.0")
    assert code != 0
    assert "more than 64 signature artifacts" in err
    assert time.monotonic() - started < 30
    assert "Traceback" not in gate.log()

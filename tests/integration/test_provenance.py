"""Provenance requirements through a real gatekeeper in front of a real registry.

A rule requires SLSA provenance with CEL conditions; statements are pushed where cosign and
Sigstore tools put them: a key-signed DSSE layer under ``sha256-<hex>.att`` and a keyless
Sigstore bundle attached as a referrer (referrers tag fallback: distribution 2.8 has no
referrers API), signed by a private Sigstore the policy trusts through trusted_root.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import attest, cosign_sign, images, signing
from tests.helpers.fake_sigstore import FakeSigstore
from tests.helpers.processes import Process, start_gatekeeper
from tests.helpers.provenance import SLSA_V1, slsa_statement

TRUSTED = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())
SIGSTORE = FakeSigstore()
ISSUER = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}

CONDITIONS = """
        conditions:
          - predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/app"
          - predicate.runDetails.builder.id.startsWith("https://github.com/actions/runner")
"""
POLICY = (
    r"""
rules:
  - name: built
    repositories: ["built/**"]
    attestations:
      - name: provenance
        predicate_type: https://slsa.dev/provenance/v1
        signers: {keys: ["cosign.pub"]}
"""
    + CONDITIONS
    + r"""
  - name: built-keyless
    repositories: ["keyless/**"]
    attestations:
      - name: provenance
        predicate_type: https://slsa.dev/provenance/v1
        signers:
          keyless:
            - issuer: https://token.actions.githubusercontent.com
              subject_regex: '^https://github\.com/acme/.+'
          transparency_log: required
          trusted_root: trusted_root.json
"""
    + CONDITIONS
    + r"""
  - name: hosted-main
    repositories: ["claimed/**"]
    signatures:
      keyless:
        - issuer_regex: '^https://token\.actions\.githubusercontent\.com$'
          subject_regex: '^https://github\.com/acme/app/.+'
          claims:
            source_repository_uri: https://github.com/acme/app
            source_repository_ref: refs/heads/main
            runner_environment: github-hosted
            build_trigger: {regex: 'push|release'}
      trusted_root: trusted_root.json
  - name: stored-elsewhere
    repositories: ["elsewhere/**"]
    signatures: {keys: ["cosign.pub"], repository: supply-chain/store}
    attestations:
      - name: provenance
        predicate_type: https://slsa.dev/provenance/v1
        signers: {keys: ["cosign.pub"], repository: supply-chain/store}
        conditions: ['predicateType == "https://slsa.dev/provenance/v1"']
"""
)


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("provenance-gate")
    (work / "cosign.pub").write_bytes(cosign_sign.public_key_pem(TRUSTED))
    (work / "trusted_root.json").write_bytes(SIGSTORE.trusted_root())
    policy = work / "policy.yaml"
    policy.write_text(POLICY)
    process = start_gatekeeper(work, registry.url, policy)
    yield process
    process.stop()


def seed(tmp_path: Path, registry: Process, repo: str) -> images.Image:
    img = images.image(f"provenance {repo} {time.monotonic_ns()}")
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    return img


def attest_layer(
    registry: Process,
    repo: str,
    img: images.Image | images.Blob,
    statement: bytes,
    key: ec.EllipticCurvePrivateKey,
) -> None:
    layer = attest.keyed_layer(statement, key, predicate_type=SLSA_V1)
    attest.push_attestations(registry.url, repo, img.digest, attest.attestation_manifest([layer]))


def pull(gate: Process, repo: str) -> requests.Response:
    return requests.get(f"{gate.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT, timeout=30)


def refusal(response: requests.Response) -> str:
    assert response.status_code == 403, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "DENIED"
    return json.dumps(error, ensure_ascii=False)


def test_matching_provenance_admits(tmp_path: Path, registry: Process, gate: Process) -> None:
    repo = "built/app"
    img = seed(tmp_path, registry, repo)
    attest_layer(registry, repo, img, slsa_statement(img.digest, repo), TRUSTED)
    response = pull(gate, repo)
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == img.digest


def test_keyless_provenance_bundle_referrer_admits(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "keyless/app"
    img = seed(tmp_path, registry, repo)
    leaf = SIGSTORE.issue(san=x509.UniformResourceIdentifier(WORKFLOW), issuer=ISSUER)
    bundle = SIGSTORE.keyless_bundle(leaf, slsa_statement(img.digest, repo))
    size = len(img.manifest.data)
    attest.push_bundle_referrer(registry.url, repo, img.digest, size, bundle, SLSA_V1)
    response = pull(gate, repo)
    assert response.status_code == 200, response.text


def test_no_provenance_refuses(tmp_path: Path, registry: Process, gate: Process) -> None:
    repo = "built/none"
    img = seed(tmp_path, registry, repo)
    text = refusal(pull(gate, repo))
    assert "attestation 'provenance' (https://slsa.dev/provenance/v1)" in text
    assert f"no statement about {img.digest} signed by a trusted signer" in text


def test_wrong_repository_in_the_predicate_refuses(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "built/forked"
    img = seed(tmp_path, registry, repo)
    statement = slsa_statement(img.digest, repo, repository="https://github.com/evil/app")
    attest_layer(registry, repo, img, statement, TRUSTED)
    text = refusal(pull(gate, repo))
    assert "no verified statement satisfies the conditions" in text
    assert (
        "`predicate.buildDefinition.externalParameters.workflow.repository =="
        ' \\"https://github.com/acme/app\\"` was false'
    ) in text
    assert (
        "saw predicate.buildDefinition.externalParameters.workflow.repository ="
        ' \\"https://github.com/evil/app\\"'
    ) in text


def test_an_untrusted_signer_refuses(tmp_path: Path, registry: Process, gate: Process) -> None:
    repo = "built/stranger"
    img = seed(tmp_path, registry, repo)
    attest_layer(registry, repo, img, slsa_statement(img.digest, repo), STRANGER)
    text = refusal(pull(gate, repo))
    assert "signed, but not by a trusted key" in text


def test_an_untrusted_keyless_identity_refuses(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "keyless/other-org"
    img = seed(tmp_path, registry, repo)
    other = "https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main"
    leaf = SIGSTORE.issue(san=x509.UniformResourceIdentifier(other), issuer=ISSUER)
    bundle = SIGSTORE.keyless_bundle(leaf, slsa_statement(img.digest, repo))
    attest.push_bundle_referrer(
        registry.url, repo, img.digest, len(img.manifest.data), bundle, SLSA_V1
    )
    text = refusal(pull(gate, repo))
    assert "does not match the policy's keyless identities" in text


def test_an_attestation_about_another_digest_refuses(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "built/elsewhere"
    img = seed(tmp_path, registry, repo)
    other = seed(tmp_path, registry, "built/elsewhere-other")
    # Provenance of another image, copied under this image's .att tag.
    attest_layer(registry, repo, img, slsa_statement(other.digest, repo), TRUSTED)
    text = refusal(pull(gate, repo))
    assert f"attestation is for {other.digest} not {img.digest}" in text


def test_a_signature_presented_as_an_attestation_refuses(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "built/signed-only"
    img = seed(tmp_path, registry, repo)
    signing.sign_and_push(registry.url, registry.host, repo, img.digest, TRUSTED)
    # cosign v3's image signature statement, under .att with a lying predicateType annotation.
    attest_layer(registry, repo, img, cosign_sign.sign_statement(img.digest), TRUSTED)
    text = refusal(pull(gate, repo))
    assert (
        "attestation predicate is 'https://sigstore.dev/cosign/sign/v1',"
        " not 'https://slsa.dev/provenance/v1'"
    ) in text


GITHUB_CLAIMS = {
    "1.3.6.1.4.1.57264.1.12": "https://github.com/acme/app",  # source repository URI
    "1.3.6.1.4.1.57264.1.14": "refs/heads/main",  # source repository ref
    "1.3.6.1.4.1.57264.1.11": "github-hosted",  # runner environment
    "1.3.6.1.4.1.57264.1.20": "push",  # build trigger
}


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({}, None),
        ({"1.3.6.1.4.1.57264.1.11": "self-hosted"}, "claim runner_environment is 'self-hosted'"),
        ({"1.3.6.1.4.1.57264.1.14": "refs/heads/dev"}, "claim source_repository_ref is"),
    ],
)
def test_identity_claims_of_a_keyless_signature(
    tmp_path: Path,
    registry: Process,
    gate: Process,
    changes: dict[str, str],
    refused: str | None,
) -> None:
    repo = f"claimed/app-{len(changes)}-{time.monotonic_ns()}"
    img = seed(tmp_path, registry, repo)
    leaf = SIGSTORE.issue(
        san=x509.UniformResourceIdentifier(WORKFLOW),
        issuer=ISSUER,
        claims={**GITHUB_CLAIMS, **changes},
    )
    bundle = SIGSTORE.keyless_bundle(leaf, cosign_sign.sign_statement(img.digest))
    signing.push_bundle_referrer(
        registry.url, repo, img.digest, len(img.manifest.data), images.OCI_MANIFEST, bundle
    )
    response = pull(gate, repo)
    if refused is None:
        assert response.status_code == 200, response.text
    else:
        assert refused in refusal(response)


def test_index_children_inherit_the_index_provenance(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "built/multi"
    amd = images.image(f"amd {time.monotonic_ns()}")
    arm = images.image(f"arm {time.monotonic_ns()}", arch="arm64")
    idx = images.index([amd, arm])
    layout = images.write_layout(tmp_path / "layout", [amd, arm], idx, "m")
    images.push_layout(layout, "m", f"{registry.host}/{repo}:1.0.0", all_images=True)
    child = f"{gate.url}/v2/{repo}/manifests/{amd.digest}"
    # The child alone, before its index was admitted: no provenance of its own.
    assert "attestation-missing" in refusal(requests.get(child, headers=ACCEPT, timeout=30))
    attest_layer(registry, repo, idx, slsa_statement(idx.digest, repo), TRUSTED)
    response = pull(gate, repo)
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == idx.digest
    inherited = requests.get(child, headers=ACCEPT, timeout=30)
    assert inherited.status_code == 200, inherited.text


def test_signatures_and_attestations_stored_in_another_repository(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    """cosign's COSIGN_REPOSITORY: .sig and .att live in supply-chain/store."""
    store = "supply-chain/store"
    stored = seed(tmp_path, registry, "elsewhere/stored")
    signing.sign_and_push(registry.url, registry.host, store, stored.digest, TRUSTED)
    attest_layer(registry, store, stored, slsa_statement(stored.digest, "app"), TRUSTED)
    response = pull(gate, "elsewhere/stored")
    assert response.status_code == 200, response.text
    # Beside the image, where this rule does not look: refused, saying where it looked.
    beside = seed(tmp_path, registry, "elsewhere/beside")
    signing.sign_and_push(registry.url, registry.host, "elsewhere/beside", beside.digest, TRUSTED)
    attest_layer(
        registry, "elsewhere/beside", beside, slsa_statement(beside.digest, "app"), TRUSTED
    )
    text = refusal(pull(gate, "elsewhere/beside"))
    assert (
        f"no signature found (looked at tag {beside.digest.replace(':', '-')}.sig in {store}"
        in text
    )
    assert "attestation-missing" in text


def test_evaluate_explain_shows_each_candidate(tmp_path: Path, registry: Process) -> None:
    repo = "built/explained"
    img = seed(tmp_path, registry, repo)
    forked = slsa_statement(img.digest, repo, repository="https://github.com/evil/app")
    layers = [
        attest.keyed_layer(forked, TRUSTED, predicate_type=SLSA_V1),
        attest.keyed_layer(slsa_statement(img.digest, repo), STRANGER, predicate_type=SLSA_V1),
    ]
    attest.push_attestations(registry.url, repo, img.digest, attest.attestation_manifest(layers))
    (tmp_path / "cosign.pub").write_bytes(cosign_sign.public_key_pem(TRUSTED))
    (tmp_path / "trusted_root.json").write_bytes(SIGSTORE.trusted_root())
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "gatekeeper",
            "evaluate",
            f"{repo}:1.0.0",
            "--upstream",
            registry.url,
            "--policy",
            str(policy),
            "--explain",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 1, shown.stdout + shown.stderr
    out = shown.stdout
    att = img.digest.replace(":", "-") + ".att"
    assert "attestation 'provenance' (https://slsa.dev/provenance/v1):" in out
    assert f"looked at: tag {att}, referrers" in out
    assert f"verified, conditions failed: tag {att}, signed by key " in out
    assert (
        'saw predicate.buildDefinition.externalParameters.workflow.repository = "https://github.com/evil/app"'
        in out
    )
    assert f"did not verify: tag {att}: signed, but not by a trusted key" in out

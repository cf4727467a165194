"""The completed image checklist through a real gatekeeper and a real registry.

Secrets found by value in ENV and labels (the value never reaches the refusal or the log),
``image.max_layers``, a trusted base read from signed SLSA provenance before the image's own
label, and ``gatekeeper lint`` exit codes as a pipeline sees them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import attest, cosign_sign, images
from tests.helpers.processes import Process, start_gatekeeper
from tests.helpers.provenance import SLSA_V1, slsa_statement

KEY = ec.generate_private_key(ec.SECP256R1())
ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}
BASE_LABEL = "org.opencontainers.image.base.name"
# Shaped like real credentials (GitHub's classic token format, a PEM RSA key); not live.
GITHUB = "ghp_R3alLook1ngT0kenValue0123456789abcde"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7BFUpkGp3+LQmlQ\n"
    "-----END RSA PRIVATE KEY-----"
)
CLEAN: dict[str, Any] = {
    "User": "65532",
    "Env": ["PATH=/usr/bin", "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D"],
    "Healthcheck": {"Test": ["CMD", "/healthz"]},
    "Labels": {"org.opencontainers.image.source": "https://github.com/acme/app"},
}

POLICY = """
rules:
  - name: checklist
    repositories: ["checklist/**"]
    image:
      forbid_secrets_in_env: true
      forbid_secrets_in_labels: true
      max_layers: 2
  - name: based
    repositories: ["based/**"]
    attestations:
      - name: provenance
        predicate_type: https://slsa.dev/provenance/v1
        signers: {keys: ["cosign.pub"]}
    image:
      trusted_bases: [docker.io/library/alpine]
"""


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("checklist-gate")
    (work / "cosign.pub").write_bytes(cosign_sign.public_key_pem(KEY))
    (work / "policy.yaml").write_text(POLICY)
    process = start_gatekeeper(work, registry.url, work / "policy.yaml")
    yield process
    process.stop()


def push(
    tmp_path: Path, registry: Process, repo: str, config: dict[str, Any], layers: int = 1
) -> images.Image:
    img = images.image(f"{repo} {time.monotonic_ns()}", config=config, layers=layers)
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    return img


def pull(gate: Process, repo: str) -> requests.Response:
    return requests.get(f"{gate.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT, timeout=30)


def refusal(response: requests.Response) -> str:
    assert response.status_code == 403, response.text
    return str(response.json()["errors"][0]["message"])


def test_secret_by_value_is_refused_and_never_echoed(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    config = {
        **CLEAN,
        "Env": [*CLEAN["Env"], f"DEPLOY={GITHUB}"],  # an innocent name: found by value
        "Labels": {**CLEAN["Labels"], "com.acme.signing": PEM},
    }
    push(tmp_path, registry, "checklist/leaky", config)
    response = pull(gate, "checklist/leaky")
    message = refusal(response)
    assert "ENV DEPLOY (GitHub Token)" in message
    assert "label com.acme.signing (Private Key)" in message
    head = requests.head(
        f"{gate.url}/v2/checklist/leaky/manifests/1.0.0", headers=ACCEPT, timeout=30
    )
    assert head.status_code == 403
    time.sleep(0.2)  # the decision line is flushed after the answer
    logged = gate.log()
    assert "image-secrets" in logged
    for shown in (response.text, str(response.headers), logged):
        assert GITHUB not in shown
        assert "MIIEowIBAAKCAQEA" not in shown


def test_clean_image_and_max_layers(tmp_path: Path, registry: Process, gate: Process) -> None:
    push(tmp_path, registry, "checklist/slim", CLEAN, layers=2)
    assert pull(gate, "checklist/slim").status_code == 200
    push(tmp_path, registry, "checklist/deep", CLEAN, layers=3)
    message = refusal(pull(gate, "checklist/deep"))
    assert "checklist: image has 3 layers, more than image.max_layers 2" in message


def attest_provenance(registry: Process, repo: str, img: images.Image, *bases: str) -> None:
    statement = slsa_statement(img.digest, repo, images=bases)
    layer = attest.keyed_layer(statement, KEY, predicate_type=SLSA_V1)
    attest.push_attestations(registry.url, repo, img.digest, attest.attestation_manifest([layer]))


def test_trusted_base_read_from_signed_provenance(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    # No label at all: the base comes from the signed provenance only.
    img = push(tmp_path, registry, "based/from-provenance", CLEAN)
    attest_provenance(
        registry, "based/from-provenance", img, "pkg:docker/alpine@3.20?platform=linux%2Famd64"
    )
    assert pull(gate, "based/from-provenance").status_code == 200

    # The label claims alpine; the signed provenance says otherwise, and wins.
    lying = {**CLEAN, "Labels": {BASE_LABEL: "docker.io/library/alpine:3.20"}}
    img = push(tmp_path, registry, "based/lying-label", lying)
    attest_provenance(registry, "based/lying-label", img, "pkg:docker/alpine-evil@1")
    message = refusal(pull(gate, "based/lying-label"))
    assert f"base image docker.io/library/alpine-evil:1@sha256:{'b' * 64} untrusted" in message
    assert "(read from signed SLSA provenance 'provenance' (tag sha256-" in message

    # Provenance that names no image (GitHub's workflow provenance): the label is the fallback.
    labelled = {**CLEAN, "Labels": {BASE_LABEL: "docker.io/library/debian:12"}}
    img = push(tmp_path, registry, "based/label-fallback", labelled)
    attest_provenance(registry, "based/label-fallback", img)
    message = refusal(pull(gate, "based/label-fallback"))
    assert "base image docker.io/library/debian:12 is untrusted (read from label" in message
    assert "names no image" in message


def lint(registry: Process, ref: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatekeeper", "lint", ref, "--upstream", registry.url, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_lint_exit_codes(tmp_path: Path, registry: Process) -> None:
    push(tmp_path, registry, "lint/clean", CLEAN)
    clean = lint(registry, "lint/clean:1.0.0")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith("CLEAN lint/clean:1.0.0")

    leaky = {**CLEAN, "User": "", "Env": [f"NOTES={GITHUB}"]}
    push(tmp_path, registry, "lint/leaky", leaky)
    found = lint(registry, "lint/leaky:1.0.0")
    assert found.returncode == 1, found.stderr
    assert found.stdout.startswith("FINDINGS lint/leaky:1.0.0")
    assert "secrets baked into the image: ENV NOTES (GitHub Token)" in found.stdout
    assert "image runs as root" in found.stdout
    as_json = lint(registry, "lint/leaky:1.0.0", "-o", "json")
    assert as_json.returncode == 1
    document = json.loads(as_json.stdout)
    assert document["clean"] is False
    assert document["codes"] == ["image-user", "image-secrets"]
    for output in (found.stdout, found.stderr, as_json.stdout, as_json.stderr):
        assert GITHUB not in output

    missing = lint(registry, "lint/clean:9.9.9")
    assert missing.returncode == 2
    assert "not found" in missing.stderr
    missing_json = lint(registry, "lint/clean:9.9.9", "-o", "json")
    assert missing_json.returncode == 2
    assert "error" in json.loads(missing_json.stdout)
    assert lint(registry, "BAD NAME:1").returncode == 2

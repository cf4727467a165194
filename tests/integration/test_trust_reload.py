"""Trust material is compiled with the policy, and the fingerprint follows what it means.

Regressions for issue 9, findings 8 and 9: a key file that is not a key used to pass
``policy check`` and then refuse every pull at run time; a comment added to the policy used
to change the fingerprint that admission records are keyed by, so blobs of an image admitted
a moment earlier answered 403. Real processes: gatekeeper, CNCF distribution, skopeo.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import cosign_sign, images, signing
from tests.helpers.processes import REPO_ROOT, Process, running, start_gatekeeper

TRUSTED = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())
ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}
POLICY = """\
rules:
  - name: signed-apps
    repositories: ["trusted/**"]
    signatures:
      keys: ["keys/cosign.pub"]
  - name: rest
    repositories: ["**"]
    action: deny
"""
RELOADED = "policy reloaded"
REFUSED = "policy reload refused"


def policy_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatekeeper", "policy", "check", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        check=False,
    )


def test_policy_check_refuses_a_key_file_that_is_not_a_key(tmp_path: Path) -> None:
    (tmp_path / "notakey.txt").write_text("this is not a public key\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "rules:\n"
        "  - name: signed\n"
        '    repositories: ["**"]\n'
        "    signatures:\n"
        "      keys: [notakey.txt]\n"
    )
    result = policy_check(policy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"{policy}:5: rules[0].signatures.keys[0]: {tmp_path.resolve()}/notakey.txt: not a"
        " PEM or DER public key (ECDSA P-256/P-384, RSA >= 2048 bits, Ed25519)"
    ]
    assert "ok:" not in result.stdout
    (tmp_path / "notakey.txt").write_bytes(cosign_sign.public_key_pem(TRUSTED))
    fixed = policy_check(policy)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.startswith("ok: ")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/cosign.pub").write_bytes(cosign_sign.public_key_pem(TRUSTED))
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def gate(tmp_path: Path, registry: Process, policy_file: Path) -> Iterator[Process]:
    with running(start_gatekeeper(tmp_path / "gate", registry.url, policy_file)) as process:
        yield process


def signed_image(tmp_path: Path, registry: Process, repo: str) -> images.Image:
    img = images.image(f"trust-reload {repo} {time.monotonic_ns()}")
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    signing.sign_and_push(registry.url, registry.host, repo, img.digest, TRUSTED)
    return img


def manifest(gate: Process, repo: str) -> requests.Response:
    return requests.get(f"{gate.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT, timeout=30)


def blob(gate: Process, repo: str, digest: str) -> requests.Response:
    return requests.get(f"{gate.url}/v2/{repo}/blobs/{digest}", timeout=30)


def fingerprint(gate: Process) -> str:
    ready = requests.get(f"{gate.url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    return str(ready.json()["policy"])


def wait_for_log(gate: Process, text: str, count: int, timeout: float = 15.0) -> None:
    """Until ``text`` appears ``count`` times in the gate's log (the store polls every 2 s)."""
    deadline = time.monotonic() + timeout
    while gate.log().count(text) < count:
        assert time.monotonic() < deadline, f"no {text!r} #{count} in:\n{gate.log()}"
        time.sleep(0.1)


def rewrite(path: Path, data: bytes) -> None:
    """Replace a file as editors and ConfigMap updates do: a new file renamed over it."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(data)
    fresh.replace(path)


def test_a_comment_keeps_admitted_blobs_open(
    tmp_path: Path, registry: Process, gate: Process, policy_file: Path
) -> None:
    repo = "trusted/comment"
    img = signed_image(tmp_path, registry, repo)
    layer = img.layers[0].digest
    assert blob(gate, repo, layer).status_code == 403  # gated until the manifest is admitted
    assert manifest(gate, repo).status_code == 200
    assert blob(gate, repo, layer).status_code == 200
    before = fingerprint(gate)

    policy_file.write_text("# reviewed by the platform team\n" + POLICY.replace("\n", "  \n"))
    wait_for_log(gate, RELOADED, 1)
    response = blob(gate, repo, layer)
    assert response.status_code == 200, response.text
    assert response.content == img.layers[0].data
    assert blob(gate, repo, img.config.digest).status_code == 200
    assert fingerprint(gate) == before
    assert "policy reloaded, unchanged in effect" in gate.log()

    # A change that means something does close them: the admission was under other rules.
    policy_file.write_text(
        POLICY.replace("    signatures:", "    tags: {deny: [latest]}\n    signatures:")
    )
    wait_for_log(gate, RELOADED, 2)
    assert fingerprint(gate) != before
    assert blob(gate, repo, layer).status_code == 403
    assert manifest(gate, repo).status_code == 200  # admitted again under the new policy
    assert blob(gate, repo, layer).status_code == 200


def test_a_replaced_key_file_is_reloaded_and_a_broken_one_refused(
    tmp_path: Path, registry: Process, gate: Process, policy_file: Path
) -> None:
    repo = "trusted/rotation"
    signed_image(tmp_path, registry, repo)
    assert manifest(gate, repo).status_code == 200
    before = fingerprint(gate)
    key = policy_file.parent / "keys/cosign.pub"

    key.write_text("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
    wait_for_log(gate, REFUSED, 1)
    assert f"rules[0].signatures.keys[0]: {key.resolve()}: not a PEM or DER public key" in (
        gate.log()
    )
    assert fingerprint(gate) == before  # the old policy, and its parsed key, stay in force
    assert manifest(gate, repo).status_code == 200

    rewrite(key, cosign_sign.public_key_pem(STRANGER))  # now only the stranger is trusted
    wait_for_log(gate, RELOADED, 1)
    assert fingerprint(gate) != before
    refused = manifest(gate, repo)
    assert refused.status_code == 403
    assert "signed, but not by a trusted key" in refused.text

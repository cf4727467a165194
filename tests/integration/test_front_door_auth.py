"""Front-door mode against a registry with htpasswd (bcrypt) auth."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import images, signing
from tests.helpers.processes import Process, start_gatekeeper, start_registry

USER, PASSWORD = "alice", "s3cret-pass"
KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("htpasswd-registry")
    line = subprocess.run(
        ["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True
    ).stdout.strip()
    (work / "htpasswd").write_text(line + "\n")
    extra = f"auth:\n  htpasswd:\n    realm: test\n    path: {work / 'htpasswd'}\n"
    process = start_registry(work, extra)
    yield process
    process.stop()


def creds_file(path: Path, registry: Process) -> Path:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    path.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    return path


def test_client_credentials_pass_through(
    tmp_path: Path, protected: Process, permissive_policy: Path
) -> None:
    gate = start_gatekeeper(tmp_path, protected.url, permissive_policy)
    try:
        img = images.image("front-door")
        # without credentials the registry's challenge reaches the client unchanged
        anonymous = requests.get(f"{gate.url}/v2/", timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic realm=")
        refused = images.push_image(tmp_path, img, f"{gate.host}/team/app:1.0.0", check=False)
        assert refused.returncode != 0
        layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
        images.skopeo(
            "copy",
            "--dest-tls-verify=false",
            f"--dest-creds={USER}:{PASSWORD}",
            f"oci:{layout}:t",
            f"docker://{gate.host}/team/app:1.0.0",
        )
        out = images.skopeo(
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"--creds={USER}:{PASSWORD}",
            f"docker://{gate.host}/team/app:1.0.0",
        ).stdout
        assert images.sha256(out.encode()) == img.digest
        dest = tmp_path / "pulled"
        images.skopeo(
            "copy",
            "--src-tls-verify=false",
            f"--src-creds={USER}:{PASSWORD}",
            f"docker://{gate.host}/team/app:1.0.0",
            f"oci:{dest}:x",
        )
        assert (dest / "blobs/sha256" / img.layers[0].digest[7:]).exists()
    finally:
        gate.stop()


def test_gatekeeper_reads_signatures_with_its_own_credentials(
    tmp_path: Path, protected: Process
) -> None:
    (tmp_path / "cosign.pub").write_bytes(
        KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        'rules: [{name: signed, repositories: ["**"], signatures: {keys: [cosign.pub]}}]\n'
    )
    img = images.image("own-creds")
    layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
    images.skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"--dest-creds={USER}:{PASSWORD}",
        f"oci:{layout}:t",
        f"docker://{protected.host}/signed/app:1.0.0",
    )
    session = requests.Session()
    session.auth = (USER, PASSWORD)
    signing.sign_and_push(
        protected.url, protected.host, "signed/app", img.digest, KEY, session=session
    )
    client_creds = [f"--creds={USER}:{PASSWORD}"]

    def inspect(gate: Process) -> subprocess.CompletedProcess[str]:
        return images.skopeo(
            "inspect",
            "--raw",
            "--tls-verify=false",
            *client_creds,
            f"docker://{gate.host}/signed/app:1.0.0",
            check=False,
        )

    blind = start_gatekeeper(tmp_path / "blind", protected.url, policy)
    try:
        # without its own credentials gatekeeper cannot read the signature: fail closed
        result = inspect(blind)
        assert result.returncode != 0
        assert "gatekeeper: signed:" in result.stderr
        assert "401" in result.stderr
    finally:
        blind.stop()
    gate = start_gatekeeper(
        tmp_path / "own",
        protected.url,
        policy,
        "--upstream-credentials",
        str(creds_file(tmp_path / "config.json", protected)),
    )
    try:
        result = inspect(gate)
        assert result.returncode == 0, result.stderr
        assert images.sha256(result.stdout.encode()) == img.digest
    finally:
        gate.stop()
    # The same without any secret on the command line: a username and a password file.
    (tmp_path / "password").write_text(PASSWORD + "\n")
    env = {
        "GATEKEEPER_UPSTREAM_USERNAME": USER,
        "GATEKEEPER_UPSTREAM_PASSWORD_FILE": str(tmp_path / "password"),
    }
    from_files = start_gatekeeper(tmp_path / "files", protected.url, policy, env=env)
    try:
        result = inspect(from_files)
        assert result.returncode == 0, result.stderr
    finally:
        from_files.stop()

"""The Docker token flow against CNCF distribution with real token auth.

gatekeeper's own reads (signatures) and mirror mode (every request) authenticate with their
own credentials or anonymously, cache tokens per scope, and never forward a client's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import cosign_sign, images
from tests.helpers.processes import Process, start_gatekeeper, start_registry
from tests.helpers.token_server import TokenServer, start_token_server

USER, PASSWORD = "robot", "robot-secret-1"
KEY = ec.generate_private_key(ec.SECP256R1())
ACCEPT = {"Accept": images.OCI_MANIFEST}


@dataclass
class Hub:
    tokens: TokenServer
    registry: Process


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A registry with token auth: library/* is public (anonymous pull), private/* is not."""
    work = tmp_path_factory.mktemp("hub")
    with start_token_server(
        work / "token", users={USER: PASSWORD}, anonymous_pull=["library/*"]
    ) as tokens:
        registry = start_registry(work / "registry", tokens.registry_auth_config())
        try:
            yield Hub(tokens, registry)
        finally:
            registry.stop()


def push(tmp_path: Path, hub: Hub, img: images.Image, ref: str) -> None:
    layout = images.write_layout(tmp_path / f"l{img.digest[7:15]}", [img], img.manifest, "t")
    images.skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"--dest-creds={USER}:{PASSWORD}",
        f"oci:{layout}:t",
        f"docker://{hub.registry.host}/{ref}",
    )


def push_signature(hub: Hub, repo: str, digest: str) -> None:
    from tests.helpers.signing import push_signature as push_sig

    session = requests.Session()
    token = requests.get(
        hub.tokens.realm,
        auth=(USER, PASSWORD),
        timeout=10,
        params={"service": hub.tokens.service, "scope": f"repository:{repo}:pull,push"},
    ).json()["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    sig = cosign_sign.sign_image(digest, f"{hub.registry.host}/{repo}", KEY)
    push_sig(hub.registry.url, repo, digest, sig, session)


def test_mirror_pulls_public_images_with_anonymous_tokens(tmp_path: Path, hub: Hub) -> None:
    img = images.image("anon-token")
    push(tmp_path, hub, img, "library/anon:1.0.0")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        'rules: [{name: official, repositories: ["library/*"], tags: {deny: [latest]}}]\n'
    )
    gate = start_gatekeeper(tmp_path, f"docker.io={hub.registry.url}", policy, "--mirror")
    try:
        before = hub.tokens.count(anonymous=True)
        for _ in range(3):
            response = requests.get(
                f"{gate.url}/v2/library/anon/manifests/1.0.0", headers=ACCEPT, timeout=10
            )
            assert response.status_code == 200, response.text
            assert response.headers["Docker-Content-Digest"] == img.digest
        blob = requests.get(f"{gate.url}/v2/library/anon/blobs/{img.layers[0].digest}", timeout=10)
        assert blob.content == img.layers[0].data
        # one anonymous token for the scope, reused until it expires
        assert hub.tokens.count(anonymous=True) - before == 1
    finally:
        gate.stop()


def test_gatekeeper_reads_signatures_with_its_own_token(tmp_path: Path, hub: Hub) -> None:
    (tmp_path / "cosign.pub").write_bytes(
        KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        'rules: [{name: signed, repositories: ["private/*"], signatures: {keys: [cosign.pub]}}]\n'
    )
    img = images.image("token-signed")
    push(tmp_path, hub, img, "private/app:1.0.0")
    push_signature(hub, "private/app", img.digest)
    creds = tmp_path / "config.json"
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    creds.write_text(json.dumps({"auths": {hub.registry.host: {"auth": auth}}}))
    gate = start_gatekeeper(
        tmp_path, hub.registry.url, policy, "--upstream-credentials", str(creds)
    )
    try:
        robot_before = hub.tokens.count(account=USER)
        # the client logs in through gatekeeper (challenge passed back, token server direct)
        result = images.skopeo(
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"--creds={USER}:{PASSWORD}",
            f"docker://{gate.host}/private/app:1.0.0",
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert images.sha256(result.stdout.encode()) == img.digest
        # gatekeeper fetched its own token to read the .sig tag and payload
        assert hub.tokens.count(account=USER) > robot_before
        challenge = requests.get(
            f"{gate.url}/v2/private/app/manifests/1.0.0", headers=ACCEPT, timeout=10
        )
        assert challenge.status_code == 401
        assert challenge.headers["WWW-Authenticate"].startswith(
            f'Bearer realm="{hub.tokens.realm}"'
        )
    finally:
        gate.stop()

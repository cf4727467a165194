"""Mirror mode (--mirror): namespace routing, qualified names, read-only, own credentials.

The engines themselves (dockerd, containerd, podman) are exercised in test_engines.py; here
the protocol is driven directly with HTTP and skopeo.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import images, signing
from tests.helpers.processes import Process, start_gatekeeper, start_registry

KEY = ec.generate_private_key(ec.SECP256R1())
ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}
POLICY = r"""
rules:
  - name: acme-signed
    repositories: ["ghcr.io/acme/signed"]
    signatures: {keys: [cosign.pub]}
  - name: acme-on-ghcr
    repositories: ["ghcr.io/acme/*"]
    tags: {deny: [latest]}
  - name: hub-official
    repositories: ["library/*"]
    tags: {deny: [latest]}
  - name: default-deny
    repositories: ["**"]
    action: deny
"""


@pytest.fixture(scope="module")
def ghcr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """A second registry standing in for ghcr.io, with htpasswd auth."""
    work = tmp_path_factory.mktemp("ghcr")
    line = subprocess.run(
        ["htpasswd", "-Bbn", "bot", "botpass"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (work / "htpasswd").write_text(line + "\n")
    process = start_registry(
        work, f"auth:\n  htpasswd:\n    realm: ghcr\n    path: {work / 'htpasswd'}\n"
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def mirror(
    tmp_path_factory: pytest.TempPathFactory, registry: Process, ghcr: Process
) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("mirror")
    (work / "policy.yaml").write_text(POLICY)
    (work / "cosign.pub").write_bytes(
        KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    creds = {"auths": {ghcr.host: {"auth": base64.b64encode(b"bot:botpass").decode()}}}
    (work / "config.json").write_text(json.dumps(creds))
    process = start_gatekeeper(
        work,
        f"docker.io={registry.url}",
        work / "policy.yaml",
        "--mirror",
        "--upstream",
        f"ghcr.io={ghcr.url}",
        "--upstream-credentials",
        str(work / "config.json"),
    )
    yield process
    process.stop()


def seed(tmp_path: Path, host: str, ref: str, label: str, creds: str | None = None) -> images.Image:
    img = images.image(label)
    layout = images.write_layout(tmp_path / f"l-{label}", [img], img.manifest, "t")
    extra = [f"--dest-creds={creds}"] if creds else []
    images.skopeo(
        "copy", "--dest-tls-verify=false", *extra, f"oci:{layout}:t", f"docker://{host}/{ref}"
    )
    return img


def test_dockerd_style_requests_go_to_docker_hub_upstream(
    tmp_path: Path, registry: Process, mirror: Process
) -> None:
    img = seed(tmp_path, registry.host, "library/alpine:3.20.0", "alpine")
    seed(tmp_path, registry.host, "library/alpine:latest", "alpine-latest")
    ok = requests.get(
        f"{mirror.url}/v2/library/alpine/manifests/3.20.0", headers=ACCEPT, timeout=10
    )
    assert ok.status_code == 200
    assert ok.headers["Docker-Content-Digest"] == img.digest
    blob = requests.get(f"{mirror.url}/v2/library/alpine/blobs/{img.layers[0].digest}", timeout=10)
    assert blob.content == img.layers[0].data
    refused = requests.get(
        f"{mirror.url}/v2/library/alpine/manifests/latest", headers=ACCEPT, timeout=10
    )
    assert refused.status_code == 403
    assert "hub-official" in refused.json()["errors"][0]["message"]


def test_containerd_namespaces_route_and_qualify_names(
    tmp_path: Path, ghcr: Process, mirror: Process
) -> None:
    img = seed(tmp_path, ghcr.host, "acme/app:1.0.0", "ghcr-app", creds="bot:botpass")
    url = f"{mirror.url}/v2/acme/app/manifests/1.0.0?ns=ghcr.io"
    ok = requests.get(url, headers=ACCEPT, timeout=10)
    assert ok.status_code == 200, ok.text
    assert ok.headers["Docker-Content-Digest"] == img.digest
    assert ok.headers["OCI-Namespace"] == "ghcr.io"
    head = requests.head(url, headers=ACCEPT, timeout=10)
    assert head.headers["Content-Length"] == str(len(img.manifest.data))
    blob = requests.get(
        f"{mirror.url}/v2/acme/app/blobs/{img.config.digest}?ns=ghcr.io", timeout=10
    )
    assert blob.status_code == 200
    assert blob.content == img.config.data
    # the same name on Docker Hub is a different repository, caught by default-deny
    hub = requests.get(
        f"{mirror.url}/v2/acme/app/manifests/1.0.0?ns=docker.io", headers=ACCEPT, timeout=10
    )
    assert hub.status_code in (403, 404)


def test_unknown_namespace_is_refused_clearly(mirror: Process) -> None:
    response = requests.get(
        f"{mirror.url}/v2/x/y/manifests/1.0?ns=quay.io", headers=ACCEPT, timeout=10
    )
    assert response.status_code == 403
    message = response.json()["errors"][0]["message"]
    assert "'quay.io' is not mirrored here" in message
    assert "docker.io" in message and "ghcr.io" in message


def test_client_authorization_is_not_forwarded(
    tmp_path: Path, ghcr: Process, mirror: Process
) -> None:
    seed(tmp_path, ghcr.host, "acme/secret:1.0.0", "ghcr-secret", creds="bot:botpass")
    # A client presenting wrong credentials still gets the image: the mirror uses its own
    # credentials and never sends the client's anywhere.
    wrong = base64.b64encode(b"mallory:guess").decode()
    response = requests.get(
        f"{mirror.url}/v2/acme/secret/manifests/1.0.0?ns=ghcr.io",
        headers={**ACCEPT, "Authorization": f"Basic {wrong}"},
        timeout=10,
    )
    assert response.status_code == 200


def test_mirror_is_read_only(mirror: Process) -> None:
    for method, path in (
        ("POST", "/v2/library/alpine/blobs/uploads/"),
        ("PUT", "/v2/library/alpine/manifests/1.0.0"),
        ("DELETE", "/v2/library/alpine/manifests/1.0.0"),
    ):
        response = requests.request(method, mirror.url + path, timeout=10)
        assert response.status_code == 405
        assert response.json()["errors"][0]["code"] == "UNSUPPORTED"


def test_signatures_are_read_from_the_namespace_upstream(
    tmp_path: Path, ghcr: Process, mirror: Process
) -> None:
    img = seed(tmp_path, ghcr.host, "acme/signed:1.0.0", "ghcr-signed", creds="bot:botpass")
    url = f"{mirror.url}/v2/acme/signed/manifests/1.0.0?ns=ghcr.io"
    unsigned = requests.get(url, headers=ACCEPT, timeout=10)
    assert unsigned.status_code == 403
    assert "no signature found" in unsigned.json()["errors"][0]["message"]
    session = requests.Session()
    session.auth = ("bot", "botpass")
    signing.sign_and_push(ghcr.url, ghcr.host, "acme/signed", img.digest, KEY, session=session)
    deadline = time.monotonic() + 15  # refusals are cached briefly (10 s)
    while (response := requests.get(url, headers=ACCEPT, timeout=10)).status_code != 200:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.5)

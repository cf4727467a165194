"""nginx moves the bytes, gatekeeper decides: deploy/nginx/nginx.conf run as shipped.

Real nginx (auth_request), the real registry, gatekeeper, skopeo and podman. Manifests go
through gatekeeper; blobs, uploads, mounts and tags go from nginx to the registry once
gatekeeper's decision endpoint allows them. Refusals carry gatekeeper's reason either way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import cosign_sign, engines, images, signing
from tests.helpers.processes import Process, free_port, start_gatekeeper, wait_http

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "nginx.conf"
KEY = ec.generate_private_key(ec.SECP256R1())
POLICY = """
mode: enforce
rules:
  - name: team
    repositories: ["team/**"]
    tags: {{deny: ["latest"]}}
    signatures: {{keys: ["{key}"]}}
  - name: open
    repositories: ["open/**"]
  - name: secret
    repositories: ["secret/**"]
    action: deny
  - name: default-deny
    repositories: ["**"]
    action: deny
"""


@dataclass
class Front:
    nginx: Process
    gate: Process
    registry: Process
    signed: images.Image
    unsigned: images.Image
    secret: images.Image
    repo: str

    def decisions(self) -> list[dict[str, object]]:
        log = self.gate.log_path.parent / "decisions.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()]


def nginx_conf(work: Path, port: int, registry: str, gate: str) -> str:
    """The shipped file with this test's addresses, paths and foreground settings."""
    text = DEPLOY.read_text()
    for old, new in (
        ("registry.internal:5000", registry),
        ("gatekeeper.internal:5000", gate),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    local = f"daemon off;\nuser root;\npid {work}/nginx.pid;\nerror_log {work}/error.log warn;\n"
    temp = "".join(
        f"  {kind}_temp_path {work}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("worker_processes auto;", "worker_processes 1;\n" + local)
    return text.replace("http {\n", "http {\n" + temp, 1)


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Front]:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed: run the tests through `make test`")
    work = tmp_path_factory.mktemp("nginx-authz")
    key = work / "cosign.pub"
    key.write_bytes(cosign_sign.public_key_pem(KEY))
    policy = work / "policy.yaml"
    policy.write_text(POLICY.format(key=key))
    repo = f"team/{uuid.uuid4().hex[:8]}"
    signed, unsigned = images.image("nginx-signed"), images.image("nginx-unsigned")
    secret = images.image("nginx-secret")
    for image, ref in (
        (signed, f"{registry.host}/{repo}:1.0.0"),
        (unsigned, f"{registry.host}/{repo}:2.0.0"),
        (secret, f"{registry.host}/secret/{uuid.uuid4().hex[:8]}:1.0.0"),
    ):
        assert images.push_image(work, image, ref).returncode == 0
    signing.sign_and_push(registry.url, registry.host, repo, signed.digest, KEY)
    gate = start_gatekeeper(
        work / "gk", registry.url, policy, "--decision-log", str(work / "gk" / "decisions.jsonl")
    )
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(nginx_conf(work, port, registry.host, gate.host))
    log = work / "nginx.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(work)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/v2/", proc)
    yield Front(Process(proc, url, log), gate, registry, signed, unsigned, secret, repo)
    proc.terminate()
    proc.wait(timeout=10)
    gate.stop()


def skopeo_copy(src: str, dst: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", src, dst],
        capture_output=True,
        text=True,
        timeout=120,
    )


def oci_error(response: requests.Response) -> dict[str, object]:
    errors = response.json()["errors"]
    assert isinstance(errors, list) and errors
    return errors[0]  # type: ignore[no-any-return]


def test_signed_image_pulls_through_nginx(front: Front, tmp_path: Path) -> None:
    out = tmp_path / "signed"
    result = skopeo_copy(f"docker://{front.nginx.host}/{front.repo}:1.0.0", f"dir:{out}")
    assert result.returncode == 0, result.stderr
    assert images.sha256((out / "manifest.json").read_bytes()) == front.signed.digest
    # The blobs came from the registry through nginx, after gatekeeper allowed each.
    logged = [d for d in front.decisions() if d["repository"] == front.repo]
    assert {d["outcome"] for d in logged} == {"allow"}


def test_unsigned_image_is_refused_with_the_reason(front: Front, tmp_path: Path) -> None:
    result = skopeo_copy(f"docker://{front.nginx.host}/{front.repo}:2.0.0", f"dir:{tmp_path}/u")
    assert result.returncode != 0
    assert "no signature found" in result.stderr


def test_blobs_of_a_refused_image_are_refused_by_the_decision_endpoint(front: Front) -> None:
    layer = front.unsigned.layers[0].digest
    response = requests.get(f"{front.nginx.url}/v2/{front.repo}/blobs/{layer}", timeout=10)
    assert response.status_code == 403
    error = oci_error(response)
    assert error["code"] == "DENIED"
    assert "is not part of an image admitted" in str(error["message"])
    assert layer.encode() not in response.content or b"DENIED" in response.content
    logged = [
        d
        for d in front.decisions()
        if d["action"] == "read-blob" and d["digest"] == layer and d["outcome"] == "deny"
    ]
    assert logged and logged[0]["codes"] == ["blob-not-admitted"]


def test_denied_repositories_and_mounts_out_of_them(front: Front) -> None:
    secret_repo = "secret/x"
    tags = requests.get(f"{front.nginx.url}/v2/{secret_repo}/tags/list", timeout=10)
    assert tags.status_code == 403 and oci_error(tags)["code"] == "DENIED"
    layer = front.secret.layers[0].digest
    mount = requests.post(
        f"{front.nginx.url}/v2/open/m/blobs/uploads/?mount={layer}&from={secret_repo}",
        timeout=10,
    )
    assert mount.status_code == 403
    assert "denied by rule 'secret'" in str(oci_error(mount)["message"])
    assert requests.get(f"{front.nginx.url}/v2/open/m/blobs/{layer}", timeout=10).status_code != 200
    catalog = requests.get(f"{front.nginx.url}/v2/_catalog", timeout=10)
    assert catalog.status_code == 200
    assert not [name for name in catalog.json()["repositories"] if name.startswith("secret/")]


def test_pushes_stream_through_nginx_after_the_decision(front: Front, tmp_path: Path) -> None:
    src = f"docker://{front.nginx.host}/{front.repo}:1.0.0"
    pushed = skopeo_copy(src, f"docker://{front.nginx.host}/open/copy:1.0.0")
    assert pushed.returncode == 0, pushed.stderr
    back = requests.get(
        f"{front.registry.url}/v2/open/copy/manifests/1.0.0",
        headers={"Accept": images.OCI_MANIFEST},
        timeout=10,
    )
    assert back.status_code == 200
    refused = skopeo_copy(src, f"docker://{front.nginx.host}/team/other:latest")
    assert refused.returncode != 0 and "latest" in refused.stderr


def test_manifests_are_never_decided_for_another_proxy(front: Front) -> None:
    # Asked directly (a misconfigured proxy), the endpoint refuses rather than let another
    # proxy serve manifest bytes gatekeeper did not check.
    response = requests.get(
        f"{front.gate.url}/_gatekeeper/authz",
        headers={
            "X-Original-Method": "GET",
            "X-Original-URI": f"/v2/{front.repo}/manifests/1.0.0",
        },
        timeout=10,
    )
    assert response.status_code == 403
    assert "proxy-required" in response.headers["X-Gatekeeper-Error"]
    # Envoy's ext_authz style: the original path after the prefix, the original method.
    envoy = requests.get(
        f"{front.gate.url}/_gatekeeper/authz/v2/{front.repo}/blobs/"
        f"{front.unsigned.layers[0].digest}",
        timeout=10,
    )
    assert envoy.status_code == 403 and oci_error(envoy)["code"] == "DENIED"


def test_podman_pulls_through_nginx(front: Front, tmp_path: Path) -> None:
    with engines.Podman(tmp_path, front.nginx.url, mode="remap") as podman:
        podman.pull(f"docker.io/{front.repo}:1.0.0", check=True)
        assert podman.image_digest(f"docker.io/{front.repo}:1.0.0") == front.signed.digest
        refused = podman.pull(f"docker.io/{front.repo}:2.0.0")
        assert refused.returncode != 0
        assert "no signature found" in refused.stderr

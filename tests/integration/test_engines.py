"""Real container engines pull through gatekeeper as their docker.io mirror.

dockerd (registry-mirrors), containerd (ctr with hosts.toml) and podman (registries.conf),
each with private state; the upstream "Docker Hub" is the session's CNCF registry. Allowed
images (single and multi-arch) arrive; refused ones do not, and the engine shows or logs
gatekeeper's reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import engines, images, pki
from tests.helpers.images import Official, push_official
from tests.helpers.processes import Process, start_gatekeeper

pytestmark = pytest.mark.integration

POLICY = """
rules:
  - name: official
    repositories: ["library/*"]
    tags: {deny: [latest]}
  - name: default-deny
    repositories: ["**"]
    action: deny
"""
REFUSAL = "gatekeeper: official: tag 'latest' is not allowed"


@dataclass(frozen=True)
class Setup:
    gate: Process
    official: Official
    refused: str  # library/<name>:latest, present upstream but refused by policy


def _setup(
    work: Path, registry: Process, *args: str, tls_ca: Path | None = None
) -> tuple[Process, Official, str]:
    official = push_official(work, registry.host)
    img = images.image(official.name + "-latest")
    images.push_image(work, img, f"{registry.host}/library/{official.name}:latest")
    (work / "policy.yaml").write_text(POLICY)
    gate = start_gatekeeper(
        work, f"docker.io={registry.url}", work / "policy.yaml", "--mirror", *args, tls_ca=tls_ca
    )
    return gate, official, f"{official.name}:latest"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Setup]:
    gate, official, refused = _setup(tmp_path_factory.mktemp("engines"), registry)
    yield Setup(gate, official, refused)
    gate.stop()


def test_dockerd_pulls_through_gatekeeper(tmp_path: Path, mirror: Setup) -> None:
    official = mirror.official
    with engines.Dockerd(tmp_path, mirror.gate.url) as dockerd:
        dockerd.pull(f"{official.name}:1.0.0", check=True)
        assert f"{official.name}@{official.digest}" in " ".join(
            dockerd.repo_digests(f"{official.name}:1.0.0")
        )
        dockerd.pull(f"{official.multi}:1.0.0", platform="linux/arm64", check=True)
        refused = dockerd.pull(mirror.refused)
        assert refused.returncode != 0
        # dockerd hides the mirror's refusal from the user and falls back to Docker Hub
        # (unreachable here): only its log shows gatekeeper's reason.
        assert f"Attempting next endpoint for pull after error: denied: {REFUSAL}" in dockerd.log()


def test_containerd_pulls_with_gatekeeper_as_server(tmp_path: Path, mirror: Setup) -> None:
    official = mirror.official
    with engines.Containerd(tmp_path, mirror.gate.url, mode="server") as ctr:
        ctr.pull(f"docker.io/library/{official.name}:1.0.0", check=True)
        assert ctr.image_digest(f"docker.io/library/{official.name}:1.0.0") == official.digest
        ctr.pull(f"docker.io/library/{official.multi}:1.0.0", all_platforms=True, check=True)
        assert (
            ctr.image_digest(f"docker.io/library/{official.multi}:1.0.0") == official.multi_digest
        )
        refused = ctr.pull(f"docker.io/library/{mirror.refused}")
        assert refused.returncode != 0
        # containerd 1.6 resolves with HEAD, which has no body, and prints only the status;
        # the reason is in gatekeeper's decision log (and in a GET's body for clients that
        # read it).
        assert "[manifests latest]: 403 Forbidden" in refused.stderr
        assert REFUSAL.split(": ", 2)[2] in mirror.gate.log()


def test_podman_pulls_with_location_remapped(tmp_path: Path, mirror: Setup) -> None:
    official = mirror.official
    with engines.Podman(tmp_path, mirror.gate.url, mode="remap") as podman:
        podman.pull(f"docker.io/library/{official.name}:1.0.0", check=True)
        assert podman.image_digest(f"docker.io/library/{official.name}:1.0.0") == official.digest
        podman.pull(f"docker.io/library/{official.multi}:1.0.0", arch="arm64", check=True)
        refused = podman.pull(f"docker.io/library/{mirror.refused}")
        assert refused.returncode != 0
        assert REFUSAL in refused.stderr


def test_podman_and_skopeo_over_tls(tmp_path: Path, registry: Process) -> None:
    ca = pki.make_ca(tmp_path / "pki")
    server = pki.server_cert(ca, tmp_path / "pki")
    gate, official, refused = _setup(
        tmp_path,
        registry,
        "--tls-cert",
        str(server.cert_path),
        "--tls-key",
        str(server.key_path),
        tls_ca=ca.cert_path,
    )
    try:
        https = gate.url
        with engines.Podman(
            tmp_path / "podman", https, mode="remap", ca_file=ca.cert_path
        ) as podman:
            podman.pull(f"docker.io/library/{official.name}:1.0.0", check=True)
            result = podman.pull(f"docker.io/library/{refused}")
            assert result.returncode != 0
            assert REFUSAL in result.stderr
        certs = tmp_path / "skopeo-certs"
        certs.mkdir()
        (certs / "ca.crt").write_bytes(ca.cert_path.read_bytes())
        inspected = images.skopeo(
            "inspect",
            "--raw",
            f"--cert-dir={certs}",
            f"docker://{gate.host}/library/{official.name}:1.0.0",
        )
        assert images.sha256(inspected.stdout.encode()) == official.digest
        untrusted = images.skopeo(
            "inspect", "--raw", f"docker://{gate.host}/library/{official.name}:1.0.0", check=False
        )
        assert untrusted.returncode != 0
        assert "certificate" in untrusted.stderr
    finally:
        gate.stop()

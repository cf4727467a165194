"""Self-test of the test harness, with NO gatekeeper involved.

Proves the helpers the mirror-mode tests stand on: distribution with real token auth (our token
server) and htpasswd auth, and dockerd, containerd (ctr) and podman pulling
``docker.io/library/<name>:1.0.0`` from a plain registry acting as their docker.io mirror, over
HTTP and HTTPS with a private CA, in the bypassable and the enforcing configurations. When
gatekeeper is put in between later, a failure there is gatekeeper's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from tests.helpers import engines, images, pki
from tests.helpers.htpasswd import htpasswd_auth_config
from tests.helpers.images import Official, push_official
from tests.helpers.processes import Process, start_registry
from tests.helpers.token_server import (
    decode_jwt_claims,
    decode_jwt_header,
    libtrust_key_id,
    start_token_server,
)

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "wonder-land-7"


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Official:
    return push_official(tmp_path_factory.mktemp("official"), registry.host)


@dataclass(frozen=True)
class TlsMirror:
    registry: Process
    ca: pki.KeyPair
    official: Official


@pytest.fixture(scope="module")
def tls_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsMirror]:
    work = tmp_path_factory.mktemp("tls-registry")
    ca = pki.make_ca(work / "pki")
    process = pki.start_tls_registry(work, pki.server_cert(ca, work / "pki"), ca)
    try:
        yield TlsMirror(process, ca, push_official(work, process.host))
    finally:
        process.stop()


def assert_cleaned_up(workdir: Path, pids: list[int]) -> None:
    assert engines.mounts_under(workdir) == []
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == []


def tree_pids(daemon: engines.Dockerd | engines.Containerd) -> list[int]:
    assert daemon.proc is not None
    root = psutil.Process(daemon.proc.pid)
    return [root.pid, *(c.pid for c in root.children(recursive=True))]


# -- registry auth -----------------------------------------------------------------------------


def test_token_auth_anonymous_pull_of_public_repo_and_push_needs_credentials(
    tmp_path: Path,
) -> None:
    with start_token_server(
        tmp_path / "token", users={USER: PASSWORD}, anonymous_pull=["public/*"]
    ) as tokens:
        reg = start_registry(tmp_path / "registry", tokens.registry_auth_config())
        try:
            challenge = requests.get(f"{reg.url}/v2/", timeout=10)
            assert challenge.status_code == 401
            assert challenge.headers["WWW-Authenticate"] == (
                f'Bearer realm="{tokens.realm}",service="{tokens.service}"'
            )
            img = images.image("token-auth")
            layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
            src = f"oci:{layout}:t"
            # anonymous push is refused (anonymous tokens carry pull only) ...
            assert (
                images.push_layout(
                    layout, "t", f"{reg.host}/public/app:1.0.0", check=False
                ).returncode
                != 0
            )
            # ... and a wrong password is refused by the token server itself
            wrong = images.skopeo(
                "copy",
                "--dest-tls-verify=false",
                f"--dest-creds={USER}:nope",
                src,
                f"docker://{reg.host}/public/app:1.0.0",
                check=False,
            )
            assert wrong.returncode != 0
            assert tokens.count(status=401) >= 1
            for repo in ("public/app", "private/app"):
                images.skopeo(
                    "copy",
                    "--dest-tls-verify=false",
                    f"--dest-creds={USER}:{PASSWORD}",
                    src,
                    f"docker://{reg.host}/{repo}:1.0.0",
                )
            assert tokens.count(account=USER, scope="repository:public/app:pull,push") >= 1

            # anonymous pull of the public repository works, of the private one does not
            before = tokens.count(anonymous=True)
            raw = images.skopeo(
                "inspect", "--raw", "--tls-verify=false", f"docker://{reg.host}/public/app:1.0.0"
            ).stdout
            assert images.sha256(raw.encode()) == img.digest
            assert tokens.count(anonymous=True) > before
            assert (
                images.skopeo(
                    "inspect",
                    "--raw",
                    "--tls-verify=false",
                    f"docker://{reg.host}/private/app:1.0.0",
                    check=False,
                ).returncode
                != 0
            )
            private = images.skopeo(
                "inspect",
                "--raw",
                "--tls-verify=false",
                f"--creds={USER}:{PASSWORD}",
                f"docker://{reg.host}/private/app:1.0.0",
            ).stdout
            assert images.sha256(private.encode()) == img.digest

            # the anonymous token is pull-only, and the registry enforces exactly that
            answer = requests.get(
                tokens.realm,
                timeout=10,
                params={"service": tokens.service, "scope": "repository:public/app:pull,push"},
            ).json()
            assert set(answer) >= {"token", "access_token", "expires_in", "issued_at"}
            claims = decode_jwt_claims(answer["token"])
            assert claims["access"] == [
                {"type": "repository", "name": "public/app", "actions": ["pull"]}
            ]
            bearer = {"Authorization": f"Bearer {answer['token']}", "Accept": images.OCI_MANIFEST}
            got = requests.get(
                f"{reg.url}/v2/public/app/manifests/1.0.0", headers=bearer, timeout=10
            )
            assert got.status_code == 200
            assert got.headers["Docker-Content-Digest"] == img.digest
            upload = requests.post(
                f"{reg.url}/v2/public/app/blobs/uploads/", headers=bearer, timeout=10
            )
            assert upload.status_code == 401
            assert 'error="insufficient_scope"' in upload.headers["WWW-Authenticate"]
        finally:
            reg.stop()


def test_token_auth_kid_header_oauth_post_and_dead_tokens(tmp_path: Path) -> None:
    with start_token_server(tmp_path / "token", users={USER: PASSWORD}, key_mode="kid") as tokens:
        reg = start_registry(tmp_path / "registry", tokens.registry_auth_config())
        try:
            form = {
                "grant_type": "password",
                "username": USER,
                "password": PASSWORD,
                "service": tokens.service,
                "client_id": "harness",
                "access_type": "offline",
                "scope": "registry:catalog:*",
            }
            answer = requests.post(tokens.realm, data=form, timeout=10).json()
            header = decode_jwt_header(answer["access_token"])
            assert header["kid"] == libtrust_key_id(tokens.signer.key.public_key())
            assert "x5c" not in header
            catalog = requests.get(
                f"{reg.url}/v2/_catalog",
                timeout=10,
                headers={"Authorization": f"Bearer {answer['access_token']}"},
            )
            assert catalog.status_code == 200, catalog.text
            refreshed = requests.post(
                tokens.realm,
                timeout=10,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": answer["refresh_token"],
                    "service": tokens.service,
                    "client_id": "harness",
                    "scope": "registry:catalog:*",
                },
            ).json()
            assert (
                requests.get(
                    f"{reg.url}/v2/_catalog",
                    timeout=10,
                    headers={"Authorization": f"Bearer {refreshed['access_token']}"},
                ).status_code
                == 200
            )
            bad = requests.post(tokens.realm, timeout=10, data={**form, "password": "nope"})
            assert bad.status_code == 401
            # distribution honours exp (+60 s leeway): a backdated token is dead on arrival
            tokens.backdate = tokens.expires_in + 120
            dead = tokens.issue(USER, ["registry:catalog:*"])
            assert (
                requests.get(
                    f"{reg.url}/v2/_catalog",
                    timeout=10,
                    headers={"Authorization": f"Bearer {dead}"},
                ).status_code
                == 401
            )
        finally:
            reg.stop()


def test_htpasswd_registry_with_skopeo_creds(tmp_path: Path) -> None:
    reg = start_registry(
        tmp_path / "registry", htpasswd_auth_config(tmp_path / "auth", {USER: PASSWORD})
    )
    try:
        challenge = requests.get(f"{reg.url}/v2/", timeout=10)
        assert challenge.status_code == 401
        assert challenge.headers["WWW-Authenticate"].startswith("Basic realm=")
        img = images.image("htpasswd")
        layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
        dest = f"docker://{reg.host}/team/app:1.0.0"
        assert (
            images.push_layout(layout, "t", f"{reg.host}/team/app:1.0.0", check=False).returncode
            != 0
        )
        images.skopeo(
            "copy",
            "--dest-tls-verify=false",
            f"--dest-creds={USER}:{PASSWORD}",
            f"oci:{layout}:t",
            dest,
        )
        assert (
            images.skopeo("inspect", "--raw", "--tls-verify=false", dest, check=False).returncode
            != 0
        )
        raw = images.skopeo(
            "inspect", "--raw", "--tls-verify=false", f"--creds={USER}:{PASSWORD}", dest
        ).stdout
        assert images.sha256(raw.encode()) == img.digest
    finally:
        reg.stop()


def test_token_server_serves_each_engines_own_auth_flow(tmp_path: Path) -> None:
    """ctr uses the OAuth2 POST password grant, dockerd GET + offline refresh token then the
    POST refresh_token grant, podman and skopeo plain GET with Basic credentials."""
    with start_token_server(
        tmp_path / "token", users={USER: PASSWORD}, anonymous_pull=["public/*"]
    ) as tokens:
        reg = start_registry(tmp_path / "registry", tokens.registry_auth_config())
        try:
            img = images.image("engine-auth")
            layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
            for repo in ("public/app", "private/app"):
                images.skopeo(
                    "copy",
                    "--dest-tls-verify=false",
                    f"--dest-creds={USER}:{PASSWORD}",
                    f"oci:{layout}:t",
                    f"docker://{reg.host}/{repo}:1.0.0",
                )
            public, private = f"{reg.host}/public/app:1.0.0", f"{reg.host}/private/app:1.0.0"

            pushed = len(tokens.requests)
            with engines.Containerd(tmp_path / "containerd", None) as ctr:
                ctr.ctr("images", "pull", "--plain-http", public, check=True)
                denied = ctr.ctr("images", "pull", "--plain-http", private, namespace="anon")
                assert "insufficient_scope" in denied.stderr
                ctr.ctr(
                    "images",
                    "pull",
                    "--plain-http",
                    "--user",
                    f"{USER}:{PASSWORD}",
                    private,
                    namespace="user",
                    check=True,
                )
            grants = [r.grant_type for r in tokens.requests[pushed:] if r.account == USER]
            assert grants and set(grants) == {"password"}, tokens.requests[pushed:]

            with engines.Dockerd(tmp_path / "dockerd", None, insecure_registries=[reg.host]) as d:
                d.docker(
                    "login", "-u", USER, "--password-stdin", reg.host, check=True, stdin=PASSWORD
                )
                d.pull(private, check=True)
                assert d.repo_digests(private) == [f"{private.split(':1.0.0')[0]}@{img.digest}"]
            assert [r.grant_type for r in tokens.requests if r.method == "POST"][-1] == (
                "refresh_token"
            )

            with engines.Podman(tmp_path / "podman", None) as podman:
                podman.podman(
                    "login", "--tls-verify=false", "-u", USER, "-p", PASSWORD, reg.host, check=True
                )
                podman.podman("pull", "--tls-verify=false", private, check=True)
                assert podman.image_digest(private) == img.digest
        finally:
            reg.stop()


# -- engines through a plain registry as their docker.io mirror --------------------------------


def test_dockerd_pulls_through_registry_mirror(
    tmp_path: Path, registry: Process, official: Official
) -> None:
    with engines.Dockerd(tmp_path, registry.url) as docker:
        pids = tree_pids(docker)
        docker.pull(f"{official.name}:1.0.0", check=True)
        assert docker.repo_digests(f"{official.name}:1.0.0") == [
            f"{official.name}@{official.digest}"
        ]
        docker.pull(f"docker.io/library/{official.multi}:1.0.0", platform="linux/arm64", check=True)
        assert docker.repo_digests(f"{official.multi}:1.0.0") == [
            f"{official.multi}@{official.multi_digest}"
        ]
        # any mirror error makes dockerd move on to Docker Hub (the documented bypass)
        missing = docker.pull(f"{official.name}-missing:1.0.0")
        assert missing.returncode != 0
        assert "Attempting next endpoint for pull after error: manifest unknown" in docker.log()
    assert_cleaned_up(tmp_path, pids)


def test_dockerd_pulls_through_https_mirror_with_private_ca(
    tmp_path: Path, tls_mirror: TlsMirror
) -> None:
    ref = f"{tls_mirror.official.name}:1.0.0"
    with engines.Dockerd(
        tmp_path, tls_mirror.registry.url, ca_file=tls_mirror.ca.cert_path
    ) as docker:
        certs_d = Path("/etc/docker/certs.d") / tls_mirror.registry.host
        assert (certs_d / "ca.crt").exists()
        pids = tree_pids(docker)
        docker.pull(ref, check=True)
        assert docker.repo_digests(ref) == [f"{ref.split(':')[0]}@{tls_mirror.official.digest}"]
    assert not certs_d.exists()
    assert_cleaned_up(tmp_path, pids)


def test_containerd_pulls_through_mirror_host_and_as_server(
    tmp_path: Path, registry: Process, official: Official, tls_mirror: TlsMirror
) -> None:
    single = f"docker.io/library/{official.name}:1.0.0"
    multi = f"docker.io/library/{official.multi}:1.0.0"
    with engines.Containerd(tmp_path, registry.url) as ctr:
        pids = tree_pids(ctr)
        ctr.pull(single, check=True)
        assert ctr.image_digest(single) == official.digest
        ctr.pull(multi, all_platforms=True, check=True)
        ctr.pull(multi, platform="linux/arm64", namespace="arm", check=True)
        ctr.ctr("content", "get", official.arm_digest, namespace="arm", check=True)
        assert ctr.image_digest(multi) == official.multi_digest
        # as a [host] mirror a failure moves on to the next host (the real registry)
        missing = ctr.pull(f"docker.io/library/{official.name}-missing:1.0.0")
        assert missing.returncode != 0
        assert (
            f'msg="trying next host - response was http.StatusNotFound" host="{registry.host}"'
            in missing.stderr
        )
        # as the server (with the [host] table 1.6 needs) the gate is the only way out
        ctr.configure(registry.url, mode="server")
        assert (
            ctr.hosts_dir.joinpath("docker.io/hosts.toml")
            .read_text()
            .startswith(f'server = "{registry.url}"')
        )
        ctr.pull(single, namespace="enforced", check=True)
        assert ctr.image_digest(single, namespace="enforced") == official.digest
        missing = ctr.pull(f"docker.io/library/{official.name}-missing:1.0.0", namespace="enforced")
        assert missing.returncode != 0
        assert "not found" in missing.stderr
        assert "registry-1.docker.io" not in missing.stderr
        # https mirror with a private CA (hosts.toml `ca =`)
        tls_ref = f"docker.io/library/{tls_mirror.official.name}:1.0.0"
        ctr.configure(tls_mirror.registry.url, mode="server", ca_file=tls_mirror.ca.cert_path)
        ctr.pull(tls_ref, namespace="tls", check=True)
        assert ctr.image_digest(tls_ref, namespace="tls") == tls_mirror.official.digest
    assert_cleaned_up(tmp_path, pids)


def test_podman_pulls_through_mirror_remap_and_blocked_upstream(
    tmp_path: Path, registry: Process, official: Official, tls_mirror: TlsMirror
) -> None:
    single = f"docker.io/library/{official.name}:1.0.0"
    multi = f"docker.io/library/{official.multi}:1.0.0"
    missing = f"docker.io/library/{official.name}-missing:1.0.0"
    with engines.Podman(tmp_path, registry.url) as podman:
        podman.pull(single, check=True)
        assert podman.image_digest(single) == official.digest
        podman.pull(multi, arch="arm64", check=True)
        assert podman.image_digest(multi) == official.multi_digest
        failed = podman.pull(missing)
        assert failed.returncode != 0
        assert "Mirrors also failed" in failed.stderr  # then it tried docker.io itself
        assert "is blocked" not in failed.stderr

        podman.configure(registry.url, mode="blocked")
        podman.podman("rmi", "-a", check=True)
        podman.pull(single, check=True)
        failed = podman.pull(missing)
        assert failed.returncode != 0
        assert "registry docker.io is blocked" in failed.stderr

        podman.configure(registry.url, mode="remap")
        podman.podman("rmi", "-a", check=True)
        podman.pull(single, check=True)
        assert podman.image_digest(single) == official.digest

        # https: without the CA the mirror is refused, with it (a private --cert-dir) it works
        tls_ref = f"docker.io/library/{tls_mirror.official.name}:1.0.0"
        podman.configure(tls_mirror.registry.url, mode="blocked")
        untrusted = podman.pull(tls_ref)
        assert untrusted.returncode != 0
        assert "certificate signed by unknown authority" in untrusted.stderr
        podman.configure(tls_mirror.registry.url, mode="blocked", ca_file=tls_mirror.ca.cert_path)
        podman.pull(tls_ref, check=True)
        assert podman.image_digest(tls_ref) == tls_mirror.official.digest
    assert engines.mounts_under(tmp_path) == []

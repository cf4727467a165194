"""TLS on both sides: gatekeeper serving HTTPS (certificate reloaded on change) and an
upstream with a private CA (--upstream-ca)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import images, pki
from tests.helpers.processes import REPO_ROOT, Process, start_gatekeeper


def test_serving_certificate_is_reloaded_when_it_changes(
    tmp_path: Path, registry: Process, permissive_policy: Path
) -> None:
    first_ca = pki.make_ca(tmp_path / "ca1")
    second_ca = pki.make_ca(tmp_path / "ca2")
    first = pki.server_cert(first_ca, tmp_path / "ca1")
    second = pki.server_cert(second_ca, tmp_path / "ca2")
    live_cert, live_key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copy(first.cert_path, live_cert)
    shutil.copy(first.key_path, live_key)
    gate = start_gatekeeper(
        tmp_path,
        registry.url,
        permissive_policy,
        "--tls-cert",
        str(live_cert),
        "--tls-key",
        str(live_key),
        tls_ca=first_ca.cert_path,
    )
    try:
        assert (
            requests.get(f"{gate.url}/v2/", verify=str(first_ca.cert_path), timeout=10).status_code
            == 200
        )
        shutil.copy(second.key_path, live_key)
        shutil.copy(second.cert_path, live_cert)
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"{gate.url}/v2/", verify=str(second_ca.cert_path), timeout=5)
                break
            except requests.exceptions.SSLError:
                assert time.monotonic() < deadline, "certificate was not reloaded"
                time.sleep(0.5)
        assert "TLS certificate reloaded" in gate.log()
    finally:
        gate.stop()


def test_upstream_with_a_private_ca(tmp_path: Path, permissive_policy: Path) -> None:
    ca = pki.make_ca(tmp_path / "pki")
    upstream = pki.start_tls_registry(
        tmp_path / "registry", pki.server_cert(ca, tmp_path / "pki"), ca
    )
    try:
        img = images.image("private-ca")
        layout = images.write_layout(tmp_path / "layout", [img], img.manifest, "t")
        certs = tmp_path / "certs"
        certs.mkdir()
        shutil.copy(ca.cert_path, certs / "ca.crt")
        images.skopeo(
            "copy",
            f"--dest-cert-dir={certs}",
            f"oci:{layout}:t",
            f"docker://{upstream.host}/app/x:1.0.0",
        )
        untrusting = start_gatekeeper(tmp_path / "a", upstream.url, permissive_policy)
        try:
            response = requests.get(
                f"{untrusting.url}/v2/app/x/manifests/1.0.0",
                timeout=10,
                headers={"Accept": images.OCI_MANIFEST},
            )
            assert response.status_code == 503
            assert "certificate" in response.json()["errors"][0]["message"].lower()
        finally:
            untrusting.stop()
        trusting = start_gatekeeper(
            tmp_path / "b", upstream.url, permissive_policy, "--upstream-ca", str(ca.cert_path)
        )
        try:
            response = requests.get(
                f"{trusting.url}/v2/app/x/manifests/1.0.0",
                timeout=10,
                headers={"Accept": images.OCI_MANIFEST},
            )
            assert response.status_code == 200
            assert response.headers["Docker-Content-Digest"] == img.digest
        finally:
            trusting.stop()
    finally:
        upstream.stop()


def test_upstream_ca_is_added_to_the_system_store(tmp_path: Path) -> None:
    """Two TLS upstreams (mirror routes): one trusted through the process's default store
    (SSL_CERT_FILE, made with certs/make_dev_certs.py), one through --upstream-ca. Both
    verify: the private CA was added, the default store not replaced."""
    dev = tmp_path / "dev"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "certs/make_dev_certs.py"), "--out", str(dev)],
        check=True,
    )
    system_ca = pki.KeyPair(
        x509.load_pem_x509_certificate((dev / "ca.pem").read_bytes()),
        ec.generate_private_key(ec.SECP256R1()),  # unused: only the paths are read
        dev / "ca.pem",
        dev / "ca-key.pem",
    )
    dev_server = pki.KeyPair(
        system_ca.cert, system_ca.key, dev / "server.pem", dev / "server-key.pem"
    )
    public = pki.start_tls_registry(tmp_path / "public", dev_server, system_ca)
    private_ca = pki.make_ca(tmp_path / "pki")
    private = pki.start_tls_registry(
        tmp_path / "private", pki.server_cert(private_ca, tmp_path / "pki"), private_ca
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text('rules: [{name: all, repositories: ["**"]}]\n')
    gate = start_gatekeeper(
        tmp_path / "gate",
        f"docker.io={public.url}",
        policy,
        "--mirror",
        "--upstream",
        f"ghcr.io={private.url}",
        "--upstream-ca",
        str(private_ca.cert_path),
        env={"SSL_CERT_FILE": str(dev / "ca.pem"), "SSL_CERT_DIR": str(tmp_path / "none")},
    )
    try:
        for path in ("/v2/library/x/tags/list", "/v2/acme/x/tags/list?ns=ghcr.io"):
            response = requests.get(gate.url + path, timeout=10)
            # The registry's own answer (no such repository), not a 503 for a TLS failure.
            assert response.status_code == 404, (path, response.text)
            assert response.json()["errors"][0]["code"] == "NAME_UNKNOWN"
        assert requests.get(f"{gate.url}/readyz", timeout=10).status_code == 200
    finally:
        gate.stop()
        public.stop()
        private.stop()

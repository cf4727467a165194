"""TLS on both sides: gatekeeper serving HTTPS (certificate reloaded on change) and an
upstream with a private CA (--upstream-ca)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import requests

from tests.helpers import images, pki
from tests.helpers.processes import Process, start_gatekeeper


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

"""Upstream connections through an HTTP forward proxy (HTTPS_PROXY/HTTP_PROXY), NO_PROXY
bypassing it, and only the proxy's own credentials sent to it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import requests

from tests.helpers import images, pki
from tests.helpers.processes import Process, start_gatekeeper
from tests.helpers.proxies import ForwardProxy

ACCEPT = {"Accept": images.OCI_MANIFEST}
NO_ENV_PROXY = {"http_proxy": "", "https_proxy": "", "no_proxy": "", "NO_PROXY": ""}


def test_http_upstream_through_http_proxy(
    tmp_path: Path, registry: Process, permissive_policy: Path
) -> None:
    img = images.image("through-proxy")
    images.push_image(tmp_path, img, f"{registry.host}/proxied/app:1.0.0")
    with ForwardProxy() as proxy:
        gate = start_gatekeeper(
            tmp_path,
            registry.url,
            permissive_policy,
            env={**NO_ENV_PROXY, "HTTP_PROXY": f"http://px:px-secret@127.0.0.1:{proxy.port}"},
        )
        try:
            response = requests.get(
                f"{gate.url}/v2/proxied/app/manifests/1.0.0", headers=ACCEPT, timeout=10
            )
            assert response.status_code == 200
            assert response.headers["Docker-Content-Digest"] == img.digest
            assert proxy.seen, "nothing went through the proxy"
            assert all(s.target.startswith(registry.url + "/v2/") for s in proxy.seen)
            basic = "Basic " + base64.b64encode(b"px:px-secret").decode()
            assert {s.headers.get("Proxy-Authorization") for s in proxy.seen} == {basic}
            assert "px-secret" not in gate.log()
        finally:
            gate.stop()


def test_https_upstream_through_connect_and_no_proxy(tmp_path: Path) -> None:
    ca = pki.make_ca(tmp_path / "pki")
    upstream = pki.start_tls_registry(tmp_path / "reg", pki.server_cert(ca, tmp_path / "pki"), ca)
    policy = tmp_path / "policy.yaml"
    policy.write_text('rules: [{name: all, repositories: ["**"]}]\n')
    creds = tmp_path / "config.json"
    auth = base64.b64encode(b"bot:bot-secret").decode()
    creds.write_text(json.dumps({"auths": {upstream.host: {"auth": auth}}}))
    common = ("--mirror", "--upstream-ca", str(ca.cert_path), "--upstream-credentials", str(creds))
    try:
        with ForwardProxy() as proxy:
            env = {**NO_ENV_PROXY, "HTTPS_PROXY": f"127.0.0.1:{proxy.port}"}
            gate = start_gatekeeper(
                tmp_path / "a", f"docker.io={upstream.url}", policy, *common, env=env
            )
            try:
                response = requests.get(f"{gate.url}/v2/library/x/tags/list", timeout=10)
                assert response.status_code == 404  # the registry's answer, through the tunnel
                assert {s.method for s in proxy.seen} == {"CONNECT"}
                assert {s.target for s in proxy.seen} == {upstream.host}
                # The proxy sees the tunnel's head only: gatekeeper's credentials stay inside TLS.
                assert not any("Authorization" in s.headers for s in proxy.seen)
            finally:
                gate.stop()
            seen = len(proxy.seen)
            bypass = {**env, "NO_PROXY": "localhost,127.0.0.1"}
            gate = start_gatekeeper(
                tmp_path / "b", f"docker.io={upstream.url}", policy, *common, env=bypass
            )
            try:
                response = requests.get(f"{gate.url}/v2/library/x/tags/list", timeout=10)
                assert response.status_code == 404
                assert requests.get(f"{gate.url}/readyz", timeout=10).status_code == 200
                assert len(proxy.seen) == seen  # NO_PROXY: straight to the registry
            finally:
                gate.stop()
    finally:
        upstream.stop()

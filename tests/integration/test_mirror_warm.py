"""Admitted manifests served by digest from memory — still decided every time.

A private registry is stopped after the first pull: the warm digest pull is answered without
it, a policy change refuses it again at once, and nothing unadmitted is ever kept. Mirror
mode serves every client so; a front door only anonymous clients (a registry that
authorises each client's read keeps doing so for everyone else).
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.helpers import images
from tests.helpers.processes import start_gatekeeper, start_registry

ALLOW = 'rules: [{name: lib, repositories: ["library/**"], tags: {deny: ["latest"]}}]\n'
DENY = 'rules: [{name: lib, repositories: ["library/**"], action: deny}]\n'
ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}


def test_warm_digest_pulls_need_no_upstream_but_a_decision(tmp_path: Path) -> None:
    registry = start_registry(tmp_path / "registry")
    policy = tmp_path / "policy.yaml"
    policy.write_text(ALLOW)
    gate = start_gatekeeper(tmp_path / "gk", f"docker.io={registry.url}", policy, "--mirror")
    try:
        img, other = images.image("warm"), images.image("cold")
        for image, tag in ((img, "1.0.0"), (other, "latest")):
            pushed = images.push_image(tmp_path, image, f"{registry.host}/library/warm:{tag}")
            assert pushed.returncode == 0, pushed.stderr
        by_tag = requests.get(
            f"{gate.url}/v2/library/warm/manifests/1.0.0", headers=ACCEPT, timeout=10
        )
        assert by_tag.status_code == 200
        refused = requests.get(
            f"{gate.url}/v2/library/warm/manifests/latest", headers=ACCEPT, timeout=10
        )
        assert refused.status_code == 403
        registry.stop()  # from here on, only what gatekeeper kept can be served

        url = f"{gate.url}/v2/library/warm/manifests/{img.digest}"
        warm = requests.get(url, headers=ACCEPT, timeout=10)
        assert warm.status_code == 200
        assert warm.content == img.manifest.data
        assert warm.headers["Docker-Content-Digest"] == img.digest
        head = requests.head(url, headers=ACCEPT, timeout=10)
        assert head.status_code == 200
        assert head.headers["Content-Length"] == str(len(img.manifest.data))
        # Refused bytes were never kept; an Accept that excludes the type goes upstream.
        cold = requests.get(
            f"{gate.url}/v2/library/warm/manifests/{other.digest}", headers=ACCEPT, timeout=10
        )
        assert cold.status_code != 200
        odd = requests.get(url, headers={"Accept": "application/x-other"}, timeout=10)
        assert odd.status_code != 200

        policy.write_text(DENY)  # the next decision is the new policy's, warm or not
        deadline = time.monotonic() + 15
        status = 200
        while time.monotonic() < deadline and status == 200:
            time.sleep(0.2)
            status = requests.get(url, headers=ACCEPT, timeout=10).status_code
        assert status == 403
    finally:
        gate.stop()
        registry.stop()


def test_front_door_serves_from_memory_only_to_anonymous_clients(tmp_path: Path) -> None:
    registry = start_registry(tmp_path / "registry")
    policy = tmp_path / "policy.yaml"
    policy.write_text(ALLOW)
    gate = start_gatekeeper(tmp_path / "gk", registry.url, policy)
    try:
        img = images.image("front")
        pushed = images.push_image(tmp_path, img, f"{registry.host}/library/front:1.0.0")
        assert pushed.returncode == 0, pushed.stderr
        url = f"{gate.url}/v2/library/front/manifests/{img.digest}"
        assert requests.get(url, headers=ACCEPT, timeout=10).status_code == 200
        with_creds = {**ACCEPT, "Authorization": "Basic dXNlcjpwYXNz"}
        assert requests.get(url, headers=with_creds, timeout=10).status_code == 200
        registry.stop()
        warm = requests.get(url, headers=ACCEPT, timeout=10)
        assert warm.status_code == 200 and warm.content == img.manifest.data
        # A client with credentials is always answered by the registry itself (down now).
        assert requests.get(url, headers=with_creds, timeout=10).status_code >= 500
        cookie = {**ACCEPT, "Cookie": "sid=1"}
        assert requests.get(url, headers=cookie, timeout=10).status_code >= 500
    finally:
        gate.stop()
        registry.stop()

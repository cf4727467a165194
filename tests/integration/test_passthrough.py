"""gatekeeper as a faithful pass-through (permissive policy) in front of a real registry."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.helpers import images
from tests.helpers.processes import Process

MANIFEST_ACCEPT = [images.OCI_MANIFEST, images.OCI_INDEX]


def test_skopeo_round_trips_single_image(
    tmp_path: Path, registry: Process, gatekeeper: Process, repo: str
) -> None:
    img = images.image("single")
    images.push_image(tmp_path, img, f"{gatekeeper.host}/{repo}:1.0.0")
    out = images.skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{gatekeeper.host}/{repo}:1.0.0"
    ).stdout
    assert images.sha256(out.encode()) == img.digest
    # pull back through gatekeeper into a fresh layout and compare every digest
    dest = tmp_path / "pulled"
    images.skopeo(
        "copy",
        "--src-tls-verify=false",
        "--preserve-digests",
        f"docker://{gatekeeper.host}/{repo}:1.0.0",
        f"oci:{dest}:x",
    )
    index = json.loads((dest / "index.json").read_text())
    assert index["manifests"][0]["digest"] == img.digest
    for blob in img.blobs:
        assert (dest / "blobs/sha256" / blob.digest[7:]).read_bytes() == blob.data
    direct = requests.get(
        f"{registry.url}/v2/{repo}/manifests/1.0.0",
        headers={"Accept": images.OCI_MANIFEST},
        timeout=10,
    )
    assert direct.headers["Docker-Content-Digest"] == img.digest


def test_skopeo_round_trips_multi_arch_index(
    tmp_path: Path, registry: Process, gatekeeper: Process, repo: str
) -> None:
    amd, arm = images.image("amd", arch="amd64"), images.image("arm", arch="arm64")
    idx = images.index([amd, arm])
    layout = images.write_layout(tmp_path / "layout", [amd, arm], idx, "multi")
    images.push_layout(layout, "multi", f"{gatekeeper.host}/{repo}:2.0.0", all_images=True)
    dest = tmp_path / "pulled"
    images.skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--preserve-digests",
        f"docker://{gatekeeper.host}/{repo}:2.0.0",
        f"oci:{dest}:x",
    )
    assert json.loads((dest / "index.json").read_text())["manifests"][0]["digest"] == idx.digest
    for img in (amd, arm):
        assert (dest / "blobs/sha256" / img.digest[7:]).read_bytes() == img.manifest.data
    direct = requests.get(
        f"{registry.url}/v2/{repo}/manifests/2.0.0",
        headers={"Accept": images.OCI_INDEX},
        timeout=10,
    )
    assert images.sha256(direct.content) == idx.digest


def test_head_manifest_has_real_length_and_digest(
    tmp_path: Path, gatekeeper: Process, repo: str
) -> None:
    img = images.image("head")
    images.push_image(tmp_path, img, f"{gatekeeper.host}/{repo}:1.0.0")
    for ref in ("1.0.0", img.digest):
        head = requests.head(
            f"{gatekeeper.url}/v2/{repo}/manifests/{ref}",
            headers={"Accept": images.OCI_MANIFEST},
            timeout=10,
        )
        assert head.status_code == 200
        assert head.headers["Content-Length"] == str(len(img.manifest.data))
        assert head.headers["Docker-Content-Digest"] == img.digest
        assert head.headers["Content-Type"] == images.OCI_MANIFEST
        assert head.content == b""


def test_repeated_accept_lines_reach_the_registry(
    tmp_path: Path, gatekeeper: Process, repo: str
) -> None:
    """podman and dockerd send several Accept lines; folding them must not break pulls."""
    img = images.image("accept")
    images.push_image(tmp_path, img, f"{gatekeeper.host}/{repo}:1.0.0")
    import http.client

    conn = http.client.HTTPConnection(gatekeeper.host, timeout=10)
    conn.putrequest("GET", f"/v2/{repo}/manifests/1.0.0")
    conn.putheader("Accept", "application/vnd.docker.distribution.manifest.v2+json")
    conn.putheader("Accept", images.OCI_MANIFEST)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, body
    assert images.sha256(body) == img.digest
    assert response.getheader("Content-Type") == images.OCI_MANIFEST

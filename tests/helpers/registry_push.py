"""Push raw blobs and manifests over HTTP (for artifacts skopeo cannot make: signatures)."""

from __future__ import annotations

from urllib.parse import urljoin

import requests

from tests.helpers.images import sha256


def push_blob(base: str, repo: str, data: bytes) -> str:
    digest = sha256(data)
    if requests.head(f"{base}/v2/{repo}/blobs/{digest}", timeout=10).status_code == 200:
        return digest
    started = requests.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=10)
    started.raise_for_status()
    location = urljoin(base + "/", started.headers["Location"])
    done = requests.put(location, params={"digest": digest}, data=data, timeout=30,
                        headers={"Content-Type": "application/octet-stream"})
    done.raise_for_status()
    return digest


def push_manifest(base: str, repo: str, reference: str, manifest: bytes, media_type: str
                  ) -> requests.Response:
    return requests.put(f"{base}/v2/{repo}/manifests/{reference}", data=manifest,
                        headers={"Content-Type": media_type}, timeout=10)

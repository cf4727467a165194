"""Push raw blobs and manifests over HTTP (for artifacts skopeo cannot make: signatures)."""

from __future__ import annotations

from urllib.parse import urljoin

import requests

from tests.helpers.images import sha256


def push_blob(base: str, repo: str, data: bytes, session: requests.Session | None = None) -> str:
    http = session or requests.Session()
    digest = sha256(data)
    if http.head(f"{base}/v2/{repo}/blobs/{digest}", timeout=10).status_code == 200:
        return digest
    started = http.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=10)
    started.raise_for_status()
    location = urljoin(base + "/", started.headers["Location"])
    done = http.put(
        location,
        params={"digest": digest},
        data=data,
        timeout=30,
        headers={"Content-Type": "application/octet-stream"},
    )
    done.raise_for_status()
    return digest


def push_manifest(
    base: str,
    repo: str,
    reference: str,
    manifest: bytes,
    media_type: str,
    session: requests.Session | None = None,
) -> requests.Response:
    http = session or requests.Session()
    return http.put(
        f"{base}/v2/{repo}/manifests/{reference}",
        data=manifest,
        headers={"Content-Type": media_type},
        timeout=10,
    )

"""Blob bodies stream in both directions: a 1 GiB blob keeps gatekeeper's RSS flat."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.helpers.processes import Process, peak_rss_bytes, start_gatekeeper

GIB = 1024**3
CHUNK = 1024 * 1024
RSS_LIMIT = 100 * 1024 * 1024


class RandomBody:
    """``size`` random bytes produced on the fly, hashed as they are sent."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sha = hashlib.sha256()
        self._block = os.urandom(CHUNK)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        counter = 0
        while sent < self.size:
            counter += 1
            # vary every chunk so no layer of the stack can deduplicate
            chunk = counter.to_bytes(8, "big") + self._block[8 : min(CHUNK, self.size - sent)]
            chunk = chunk[: self.size - sent]
            self.sha.update(chunk)
            sent += len(chunk)
            yield chunk


def test_one_gib_blob_streams_with_flat_memory(
    tmp_path: Path, registry: Process, permissive_policy: Path, repo: str
) -> None:
    gate = start_gatekeeper(tmp_path, registry.url, permissive_policy)
    try:
        baseline = peak_rss_bytes(gate.proc.pid)
        body = RandomBody(GIB)
        started = requests.post(f"{gate.url}/v2/{repo}/blobs/uploads/", timeout=10)
        location = urljoin(gate.url + "/", started.headers["Location"])
        # The digest is only known after sending; distribution checks it at the final PUT,
        # so upload with PATCH (streamed) and finish with an empty PUT.
        patched = requests.patch(
            location, data=body, timeout=600, headers={"Content-Type": "application/octet-stream"}
        )
        assert patched.status_code == 202, patched.text
        digest = "sha256:" + body.sha.hexdigest()
        done = requests.put(
            urljoin(gate.url + "/", patched.headers["Location"]),
            params={"digest": digest},
            timeout=600,
        )
        assert done.status_code == 201, done.text
        after_push = peak_rss_bytes(gate.proc.pid)

        pulled = hashlib.sha256()
        size = 0
        with requests.get(
            f"{gate.url}/v2/{repo}/blobs/{digest}", stream=True, timeout=600
        ) as response:
            assert response.status_code == 200
            assert response.headers["Content-Length"] == str(GIB)
            assert response.headers["Docker-Content-Digest"] == digest
            for chunk in response.iter_content(CHUNK):
                pulled.update(chunk)
                size += len(chunk)
        assert size == GIB
        assert "sha256:" + pulled.hexdigest() == digest
        peak = peak_rss_bytes(gate.proc.pid)
        print(
            f"gatekeeper RSS: start {baseline >> 20} MiB, after push {after_push >> 20} MiB, "
            f"peak {peak >> 20} MiB"
        )
        assert peak < RSS_LIMIT, f"peak RSS {peak >> 20} MiB"
    finally:
        gate.stop()

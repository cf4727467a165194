"""Upstreams that keep blobs elsewhere (S3, CDN) answer blob GETs with a redirect; gatekeeper
follows it itself, so clients never need to reach another host."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.helpers import images
from tests.helpers.processes import start_gatekeeper

IMG = images.image("redirected")
BLOBS = {blob.digest: blob.data for blob in IMG.blobs}


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Storage(BaseHTTPRequestHandler):
    """The blob store the registry redirects to (a presigned-URL host)."""

    def do_GET(self) -> None:
        digest = self.path.rsplit("/", 1)[-1].split("?", 1)[0]
        body = BLOBS.get(digest)
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    storage = serve(Storage)

    class Registry(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if "/blobs/" in self.path:
                digest = self.path.rsplit("/", 1)[-1]
                self.send_response(307)
                self.send_header(
                    "Location",
                    f"http://127.0.0.1:{storage.server_port}/bucket/{digest}?X-Amz-Signature=abc",
                )
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = IMG.manifest.data if "/manifests/" in self.path else b"{}"
            self.send_response(200)
            self.send_header("Content-Type", images.OCI_MANIFEST)
            self.send_header("Docker-Content-Digest", IMG.digest)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    registry = serve(Registry)
    yield f"http://127.0.0.1:{registry.server_port}"
    registry.shutdown()
    storage.shutdown()


def test_blob_redirects_are_followed(tmp_path: Path, upstream: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('rules: [{name: versions, repositories: ["**"], tags: {deny: [latest]}}]\n')
    gate = start_gatekeeper(tmp_path, upstream, policy)
    try:
        manifest = requests.get(f"{gate.url}/v2/app/manifests/1.0.0", timeout=10)
        assert manifest.status_code == 200
        for blob in IMG.blobs:
            response = requests.get(
                f"{gate.url}/v2/app/blobs/{blob.digest}", timeout=10, allow_redirects=False
            )
            assert response.status_code == 200
            assert response.content == blob.data
            assert "Location" not in response.headers
            assert response.headers["Docker-Content-Digest"] == blob.digest
    finally:
        gate.stop()

"""Hostile or malformed input gets a clear 4xx from gatekeeper: never a 500 or a traceback."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest
import requests

from tests.helpers import images
from tests.helpers.processes import Process

MANIFEST = {"Content-Type": images.OCI_MANIFEST}


def test_manifest_pushes_that_cannot_be_accepted(gatekeeper: Process, repo: str) -> None:
    url = f"{gatekeeper.url}/v2/{repo}/manifests"
    huge = requests.put(
        f"{url}/1.0.0", data=b" " * (4 * 1024 * 1024 + 1), headers=MANIFEST, timeout=30
    )
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["code"] == "SIZE_INVALID"
    broken = requests.put(f"{url}/1.0.0", data=b"{not json", headers=MANIFEST, timeout=10)
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["code"] == "MANIFEST_INVALID"
    schema1 = requests.put(
        f"{url}/1.0.0", data=json.dumps({"schemaVersion": 1}).encode(), headers=MANIFEST, timeout=10
    )
    assert schema1.status_code == 400
    assert "schema 1" in schema1.json()["errors"][0]["message"]
    img = images.image("mismatch")
    wrong = requests.put(
        f"{url}/sha256:{'0' * 64}", data=img.manifest.data, headers=MANIFEST, timeout=10
    )
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert "Traceback" not in gatekeeper.log()


def test_random_paths_never_cause_a_server_error(gatekeeper: Process) -> None:
    rng = random.Random(1234)
    alphabet = string.ascii_letters + string.digits + "/._-:@%~+"
    words = [
        "v2",
        "manifests",
        "blobs",
        "uploads",
        "tags",
        "list",
        "referrers",
        "_catalog",
        "sha256:" + "a" * 64,
        "latest",
        "..",
        "",
        "%00",
        "%2F",
    ]
    session = requests.Session()
    for _ in range(300):
        parts = [
            rng.choice(words)
            if rng.random() < 0.6
            else "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
            for _ in range(rng.randint(1, 6))
        ]
        path = "/" + "/".join(parts)
        method = rng.choice(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"])
        response = session.request(
            method,
            gatekeeper.url + path,
            timeout=10,
            data=b"x" if method in ("PUT", "POST", "PATCH") else None,
        )
        assert response.status_code < 500 or response.status_code == 503, (method, path)
        if method != "HEAD" and response.status_code >= 400 and response.content:
            body = response.json()
            assert body["errors"][0]["code"], (method, path)
    assert "Traceback" not in gatekeeper.log()


@pytest.mark.parametrize(
    "headers",
    [
        ["Content-Length: abc"],
        ["Content-Length: 3", "Transfer-Encoding: chunked"],  # a request-smuggling shape
        ["Content-Length: 3", "Content-Length: 4"],
    ],
)
def test_malformed_http_is_a_400(gatekeeper: Process, headers: list[str]) -> None:
    import socket

    host, port = gatekeeper.host.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        lines = ["PUT /v2/x/manifests/1 HTTP/1.1", f"Host: {gatekeeper.host}", *headers]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\nabc").encode())
        reply = sock.recv(4096).decode(errors="replace")
    assert reply.startswith("HTTP/1.") and " 400 " in reply.split("\r\n", 1)[0], reply[:200]
    assert "Traceback" not in gatekeeper.log()


def test_wrong_digest_from_upstream_is_refused(tmp_path: Path) -> None:
    """A registry that serves other bytes than the digest asked for is caught (integrity)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.helpers.processes import start_gatekeeper

    img = images.image("liar")

    class Liar(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"{}" if self.path == "/v2/" else img.manifest.data
            self.send_response(200)
            self.send_header("Content-Type", images.OCI_MANIFEST)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Content-Digest", "sha256:" + "1" * 64)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    policy = tmp_path / "p.yaml"
    policy.write_text('rules: [{name: all, repositories: ["**"]}]\n')
    gate = start_gatekeeper(tmp_path, f"http://127.0.0.1:{server.server_port}", policy)
    try:
        by_digest = requests.get(f"{gate.url}/v2/a/manifests/sha256:{'2' * 64}", timeout=10)
        assert by_digest.status_code == 403
        assert "integrity" in by_digest.json()["errors"][0]["message"]
        by_tag = requests.get(f"{gate.url}/v2/a/manifests/1.0.0", timeout=10)
        assert by_tag.status_code == 403
        assert "announced" in by_tag.json()["errors"][0]["message"]
    finally:
        gate.stop()
        server.shutdown()

"""``gatekeeper healthcheck`` follows the listen address and TLS settings of ``serve``."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gatekeeper.cli import main
from gatekeeper.healthcheck import probe
from tests.helpers.pki import KeyPair, make_ca, server_cert


class _Handler(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b'{"status": "ok"}')

    def do_GET(self) -> None:
        status, body = self.answer if self.path == "/healthz" else (404, b"{}")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _server(
    tls: KeyPair | None = None, answer: tuple[int, bytes] = (200, b'{"status": "ok"}')
) -> Iterator[int]:
    handler = type("Handler", (_Handler,), {"answer": answer})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.cert_path, tls.key_path)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_plain_http_on_a_wildcard_listen_probes_loopback() -> None:
    with _server() as port:
        assert probe(f"0.0.0.0:{port}", None, 3) == (
            True,
            f"healthy: http://127.0.0.1:{port}/healthz",
        )


def test_tls_trusts_the_served_certificate_only(tmp_path: Path) -> None:
    served = server_cert(make_ca(tmp_path / "ca"), tmp_path / "srv")
    other = server_cert(make_ca(tmp_path / "ca2", "ca2"), tmp_path / "other")
    with _server(tls=served) as port:
        healthy, line = probe(f"127.0.0.1:{port}", served.cert_path, 3)
        assert healthy, line
        healthy, line = probe(f"127.0.0.1:{port}", other.cert_path, 3)
        assert not healthy
        assert "CERTIFICATE_VERIFY_FAILED" in line
        assert not probe(f"127.0.0.1:{port}", None, 3)[0]  # plain HTTP to a TLS port


@pytest.mark.parametrize(
    ("answer", "reason"),
    [((503, b"{}"), "answered 503"), ((200, b"not json"), "without status ok")],
)
def test_unhealthy_answers(answer: tuple[int, bytes], reason: str) -> None:
    with _server(answer=answer) as port:
        healthy, line = probe(f"127.0.0.1:{port}", None, 3)
    assert not healthy
    assert reason in line


def test_cli_exit_codes_follow_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with _server() as port:
        monkeypatch.setenv("GATEKEEPER_LISTEN", f"0.0.0.0:{port}")
        assert main(["healthcheck"]) == 0
    assert main(["healthcheck"]) == 1  # the server is gone
    assert "unhealthy" in capsys.readouterr().out
    assert main(["healthcheck", "--listen", "nope"]) == 2

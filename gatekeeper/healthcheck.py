"""``gatekeeper healthcheck``: ask the local server's ``/healthz``, as the image's HEALTHCHECK.

It follows the same settings as ``serve`` (``--listen``/``GATEKEEPER_LISTEN``,
``--tls-cert``/``GATEKEEPER_TLS_CERT``), so the probe keeps working when the listen address
changes or TLS is turned on. A wildcard listen address is probed on loopback. Over TLS the
served certificate itself is the trust anchor (partial chain, no host name: the probe dials
an address, not the certificate's name), so the probe proves it reached the process holding
the key. Exit 0 healthy, 1 unhealthy (Docker's HEALTHCHECK convention), 2 usage error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
from pathlib import Path
from typing import Any

from gatekeeper.config import parse_listen

PATH = "/healthz"
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - mapped to loopback


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register the ``healthcheck`` subcommand."""
    parser = commands.add_parser(
        "healthcheck",
        help="probe the local server's /healthz (exit 0 healthy, 1 unhealthy)",
    )
    parser.add_argument(
        "--listen",
        default=os.environ.get("GATEKEEPER_LISTEN", "127.0.0.1:5000"),
        help="the serve address, HOST:PORT (GATEKEEPER_LISTEN)",
    )
    tls_cert = os.environ.get("GATEKEEPER_TLS_CERT")
    parser.add_argument(
        "--tls-cert",
        type=Path,
        default=Path(tls_cert) if tls_cert else None,
        help="the certificate serve uses: probe over HTTPS (GATEKEEPER_TLS_CERT)",
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")


def probe(listen: str, tls_cert: Path | None, timeout: float) -> tuple[bool, str]:
    """(healthy, one line saying why) for the server listening at ``listen``."""
    host, port = parse_listen(listen)
    host = _WILDCARD.get(host, host)
    connection: http.client.HTTPConnection
    if tls_cert is None:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    else:
        context = ssl.create_default_context(cafile=str(tls_cert))
        context.check_hostname = False
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    scheme = "https" if tls_cert else "http"
    url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}{PATH}"
    try:
        connection.request("GET", PATH, headers={"User-Agent": "gatekeeper-healthcheck"})
        response = connection.getresponse()
        body = response.read(4096)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"unhealthy: {url}: {exc}"
    finally:
        connection.close()
    if response.status != 200:
        return False, f"unhealthy: {url} answered {response.status}"
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        status = None
    if status != "ok":
        return False, f"unhealthy: {url} answered 200 without status ok"
    return True, f"healthy: {url}"


def run(args: argparse.Namespace) -> int:
    """The subcommand: print one line, exit 0 (healthy) or 1."""
    healthy, line = probe(args.listen, args.tls_cert, args.timeout)
    print(line)
    return 0 if healthy else 1

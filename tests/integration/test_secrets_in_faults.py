"""Planted secrets never reach a log, a decision line or a response body, whatever fails.

Secrets: the client's Basic and Bearer credentials and cookie, gatekeeper's own upstream
password, and a token in the upstream's WWW-Authenticate realm (plus the token issued for
it). Every fault of the fault-injecting upstream is tried in mirror mode (gatekeeper's own
identity upstream) and front-door mode (the client's), with logging at DEBUG.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.helpers.faulty_registry import FaultUpstream
from tests.helpers.inproc_gate import gate

CLIENT_PASSWORD = "client-basic-password-7d1f"
CLIENT_BEARER = "client-bearer-token-93ac"
CLIENT_COOKIE = "client-cookie-5be0"
GATE_PASSWORD = "gatekeeper-own-password-c41e"
REALM_SECRET = "realm-token-0f2b"
ISSUED = "issued-upstream-token-a9d4"
SECRETS = (CLIENT_PASSWORD, CLIENT_BEARER, CLIENT_COOKIE, GATE_PASSWORD, REALM_SECRET, ISSUED)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log record of the process, DEBUG and tracebacks included."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _paths(upstream: FaultUpstream) -> list[str]:
    paths = []
    for mode in ("good", "hang", "trickle", "reset", "bigheader", "endless", "storm"):
        paths += [
            f"/v2/library/{mode}/manifests/latest",
            f"/v2/library/{mode}/blobs/{upstream.big.digest}",
            f"/v2/library/{mode}/tags/list",
        ]
    return paths


@pytest.mark.parametrize("mirror", [True, False], ids=["mirror", "front-door"])
async def test_no_secret_in_logs_decisions_or_bodies(
    tmp_path: Path, permissive_policy: Path, captured: io.StringIO, mirror: bool
) -> None:
    # Mirror mode answers the upstream's token challenge with gatekeeper's identity; in
    # front-door mode the client's credentials are relayed as they came, so that upstream
    # lets every request through to its fault.
    realm = REALM_SECRET if mirror else None
    upstream = await FaultUpstream(realm_secret=realm, issued_token=ISSUED).start()
    try:
        host = upstream.url.removeprefix("http://")
        credentials = tmp_path / "config.json"
        credentials.write_text(
            json.dumps({"auths": {host: {"auth": _b64(f"gatebot:{GATE_PASSWORD}")}}})
        )
        settings = {"credentials": credentials, "mirror": mirror}
        if mirror:
            settings["namespaces"] = (("docker.io", upstream.url),)
        # The fault modes live in the first path component: the mirror sees library/<mode>.
        async with (
            gate(upstream.url, permissive_policy, tmp_path, **settings) as server,
            aiohttp.ClientSession() as session,
        ):

            async def fetch(path: str, auth: str) -> bytes:
                headers = {"Authorization": auth, "Cookie": f"session={CLIENT_COOKIE}"}
                try:
                    async with session.get(server.url + path, headers=headers) as response:
                        return await response.content.read(256 * 1024)
                except aiohttp.ClientError:
                    return b""  # an aborted stream: nothing more to read

            auths = (f"Basic {_b64('alice:' + CLIENT_PASSWORD)}", f"Bearer {CLIENT_BEARER}")
            bodies = await asyncio.gather(
                *(fetch(path, auth) for auth in auths for path in _paths(upstream))
            )
        text = captured.getvalue() + (tmp_path / "decisions.log").read_text()
        text += b"".join(bodies).decode(errors="replace")
        for secret in SECRETS:
            for form in (secret, _b64(secret)):
                assert form not in text, f"{secret} leaked"
        for secret in (CLIENT_PASSWORD, GATE_PASSWORD):
            for user in ("alice", "gatebot"):
                assert _b64(f"{user}:{secret}") not in text
        assert "upstream registry" in text  # the faults were logged, just without secrets
        if mirror:  # gatekeeper's own identity upstream: nothing of the client's goes there
            sent = json.dumps(upstream.seen_headers)
            assert CLIENT_COOKIE not in sent
            assert CLIENT_BEARER not in sent
            assert _b64("alice:" + CLIENT_PASSWORD) not in sent
    finally:
        await upstream.stop()

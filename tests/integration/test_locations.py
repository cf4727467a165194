"""Upload ``Location`` headers lead back through gatekeeper whatever the client claims.

Finding 10 of issue 9: gatekeeper built ``Location`` from the client's ``Host`` and forwarded
the client's ``X-Forwarded-*`` to the registry, which builds its ``Location`` from them, so a
client could point itself (or others) at any host, or at the internal upstream.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.helpers import images
from tests.helpers.processes import Process, running, start_gatekeeper, start_registry

EVIL = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
    "Forwarded": "for=203.0.113.9;host=evil.example;proto=https",
    "X-Real-IP": "203.0.113.9",
}
PUBLIC = "https://gate.example:8443"
CHUNK = 256 * 1024


def _follow(gate: Process, location: str, public: str | None = None) -> str:
    """Where a client sends the next request of the session (through ``gate``)."""
    if public is not None:
        assert location.startswith(public + "/v2/"), location
        location = location[len(public) :]
    return urljoin(gate.url + "/", location)


def _check(location: str, registry: Process) -> None:
    assert "evil.example" not in location, location
    assert registry.host not in location, location


def _upload(
    gate: Process,
    registry: Process,
    repo: str,
    data: bytes,
    chunked: bool,
    public: str | None = None,
) -> requests.Response:
    """POST, then PATCH chunks (chunked) or one PUT (monolithic), all via the Locations."""
    digest = images.sha256(data)
    started = requests.post(f"{gate.url}/v2/{repo}/blobs/uploads/", headers=EVIL, timeout=10)
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    _check(location, registry)
    assert (location if public else PUBLIC + location).startswith(
        f"{PUBLIC}/v2/{repo}/blobs/uploads/"
    ), location
    assert "_state=" in location
    offset = 0
    while chunked and offset < len(data):
        chunk = data[offset : offset + CHUNK]
        patched = requests.patch(
            _follow(gate, location, public),
            data=chunk,
            headers={
                **EVIL,
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            },
            timeout=30,
        )
        assert patched.status_code == 202, patched.text
        location = patched.headers["Location"]
        _check(location, registry)
        offset += len(chunk)
    done = requests.put(
        _follow(gate, location, public),
        params={"digest": digest},
        data=b"" if chunked else data,
        headers={**EVIL, "Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert done.status_code == 201, done.text
    _check(done.headers.get("Location", ""), registry)
    stored = requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}", timeout=10)
    assert stored.status_code == 200 and stored.content == data
    return done


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "monolithic"])
def test_client_headers_cannot_steer_upload_locations(
    gatekeeper: Process, registry: Process, repo: str, chunked: bool
) -> None:
    done = _upload(gatekeeper, registry, repo, os.urandom(3 * CHUNK + 17), chunked)
    assert done.headers["Location"].startswith(f"/v2/{repo}/blobs/sha256:")


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "monolithic"])
def test_public_url_is_the_base_of_every_location(
    tmp_path: Path, registry: Process, permissive_policy: Path, repo: str, chunked: bool
) -> None:
    gate = start_gatekeeper(tmp_path, registry.url, permissive_policy, "--public-url", PUBLIC)
    with running(gate):
        done = _upload(gate, registry, repo, os.urandom(2 * CHUNK + 5), chunked, PUBLIC)
        assert done.headers["Location"].startswith(f"{PUBLIC}/v2/{repo}/blobs/sha256:")


@pytest.mark.parametrize(
    ("trusted", "client"),
    [
        ("10.0.0.0/8", "127.0.0.1"),  # the peer is no trusted proxy: its claims are dropped
        ("127.0.0.1", "198.51.100.7"),  # it is: the rightmost untrusted X-Forwarded-For hop
    ],
)
def test_forwarding_headers_count_only_from_trusted_proxies(
    tmp_path: Path,
    registry: Process,
    permissive_policy: Path,
    repo: str,
    trusted: str,
    client: str,
) -> None:
    proxy = {"X-Forwarded-Host": "proxy.example", "X-Forwarded-Proto": "https"}
    # The premise: the registry builds its Location from these headers when it gets them.
    direct = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/", headers=proxy, timeout=10)
    assert direct.headers["Location"].startswith("https://proxy.example/v2/")
    img = images.image("forwarded")
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    decisions = tmp_path / "decisions.jsonl"
    gate = start_gatekeeper(
        tmp_path,
        registry.url,
        permissive_policy,
        "--trusted-proxies",
        trusted,
        "--decision-log",
        str(decisions),
    )
    with running(gate):
        # Trusted or not, the client gets a relative Location it can follow.
        started = requests.post(f"{gate.url}/v2/{repo}/blobs/uploads/", headers=proxy, timeout=10)
        assert started.status_code == 202, started.text
        assert started.headers["Location"].startswith(f"/v2/{repo}/blobs/uploads/")
        assert requests.get(_follow(gate, started.headers["Location"]), timeout=10).ok
        pulled = requests.get(
            f"{gate.url}/v2/{repo}/manifests/1.0.0",
            headers={"Accept": images.OCI_MANIFEST, "X-Forwarded-For": "203.0.113.1, 198.51.100.7"},
            timeout=10,
        )
        assert pulled.status_code == 200
    entries = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert [entry["client"] for entry in entries] == [client]


def test_a_registry_location_on_another_host_is_not_relayed(
    tmp_path: Path, permissive_policy: Path, repo: str
) -> None:
    """A registry whose configured external URL is not the address gatekeeper uses."""
    registry = start_registry(tmp_path / "registry", "  host: https://registry.example\n")
    gate = start_gatekeeper(tmp_path / "gate", registry.url, permissive_policy)
    with running(registry), running(gate):
        # An upload session the client would have to continue elsewhere: refused.
        refused = requests.post(f"{gate.url}/v2/{repo}/blobs/uploads/", timeout=10)
        assert refused.status_code == 502
        error = refused.json()["errors"][0]
        assert error["code"] == "UNAVAILABLE" and "another host" in error["message"]
        assert "registry.example" not in refused.text
        # A finished upload keeps its 201; only the foreign Location is left out.
        started = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/", timeout=10)
        assert started.headers["Location"].startswith("https://registry.example/v2/")
        parts = urlsplit(started.headers["Location"])
        data = os.urandom(1000)
        done = requests.put(
            f"{gate.url}{parts.path}?{parts.query}",
            params={"digest": images.sha256(data)},
            data=data,
            timeout=10,
        )
        assert done.status_code == 201, done.text
        assert "Location" not in done.headers
        log = gate.log()
        assert "https://registry.example" in log  # the operator learns which host
        assert "_state" not in log  # and never the session state

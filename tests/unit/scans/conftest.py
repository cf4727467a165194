"""Shared material for the scans tests: the real Trivy reports, subjects, a real redis-server."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.admission.evidence import Subject
from gatekeeper.oci.digest import sha256_digest
from gatekeeper.oci.manifest import parse_manifest
from tests.helpers.processes import free_port
from tests.helpers.redis_server import RedisServer

TRIVY = Path(__file__).resolve().parents[2] / "assets" / "trivy"
ALPINE = TRIVY / "alpine-310-registry.json"  # 4 MEDIUM, CreatedAt, RepoDigests
DEBIAN = TRIVY / "debian-buster.json"  # CRITICAL CVE-2019-18224 + LOW, CreatedAt
MANY = TRIVY / "scheme_2_many_vulns.json"  # CRITICAL CVE-2019-12900, HIGH, 3 MEDIUM; no dates
ALPINE_DIGEST = "sha256:b1c5a500182b21d0bfa5a584a8526b56d8be316f89e87d951be04abed2446e60"


def digest_for(label: str) -> str:
    """A distinct, well-formed digest per label."""
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


def retarget(path: Path, *digests: str, **changes: Any) -> bytes:
    """A real report rewritten to belong to ``digests`` (other top-level keys via ``changes``)."""
    doc = json.loads(path.read_bytes())
    doc.setdefault("Metadata", {})["RepoDigests"] = [f"test/app@{d}" for d in digests]
    doc.update(changes)
    for key, value in changes.items():
        if value is None:
            del doc[key]
    return json.dumps(doc, indent=2).encode()


def subject(repository: str = "team/app", label: str = "app") -> Subject:
    """A real (tiny) OCI image manifest as the admission path would hand it over."""
    config = {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": digest_for(f"config {label}"),
        "size": 2,
    }
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": [],
        }
    ).encode()
    return Subject(repository, sha256_digest(raw), parse_manifest(raw), raw)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server per test (starting one takes a few milliseconds)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run the tests through `make test`")
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()

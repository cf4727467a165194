"""Hostile content and raw requests for the bypass corpus (tests/integration/test_bypass_*).

* manifest / index builders that put any ``subject``, ``artifactType``, config or layer media
  type on any content, and Docker v2 spellings of the same images;
* :class:`Direct`: pushes straight to the registry, behind gatekeeper's back (how refused
  content gets into a registry in real life: another path in, or a policy change);
* :func:`send`: one HTTP request whose path and header lines are sent byte for byte
  (``requests``/urllib3 normalise ``..`` and merge repeated headers), and :func:`exchange`
  for several requests written at once on one connection;
* :class:`Decisions`: the decision log, read from a mark on;
* :func:`start_gate`: gatekeeper with the review's policy (see :data:`POLICY`).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import cosign_sign, images
from tests.helpers.images import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Blob, Image
from tests.helpers.processes import Process, start_gatekeeper

OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
SIMPLE_SIGNING = cosign_sign.SIMPLE_SIGNING
DSSE = "application/vnd.dsse.envelope.v1+json"
SPDX = "text/spdx+json"
BUNDLE = cosign_sign.BUNDLE_V03
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
OCTET = "application/octet-stream"
ACCEPT_ALL = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

# The policy of the review (issue 9), plus a signed-and-scanned rule for finding 6.
POLICY = r"""
mode: enforce
rules:
  - name: team
    repositories: ["team/**"]
    tags: {deny: ["latest"], allow: ['^v?[0-9]+\.[0-9]+\.[0-9]+$']}
    signatures: {keys: [cosign.pub]}
  - name: scanned
    repositories: ["scanned/**"]
    signatures: {keys: [cosign.pub]}
    scan: {deny_severities: [CRITICAL], require_verdict: true}
  - name: imm
    repositories: ["imm/**"]
    tags: {immutable: true}
  - name: open
    repositories: ["open/**"]
  - name: secret
    repositories: ["secret/**"]
    action: deny
  - name: default-deny
    repositories: ["**"]
    action: deny
"""
# Repositories an allow rule covers: the only ones a catalog may list.
ALLOWED_PREFIXES = ("team/", "scanned/", "imm/", "open/")


def sha256(data: bytes) -> str:
    return images.sha256(data)


def random_digest() -> str:
    return "sha256:" + hashlib.sha256(os.urandom(16)).hexdigest()


def artifact_tag(digest: str, suffix: str = "") -> str:
    """``sha256:abc`` → ``sha256-abc`` + suffix (``.sig``, ``.att``, ``.sbom`` or nothing)."""
    return digest.replace(":", "-", 1) + suffix


def retype(blob: Blob, media_type: str) -> Blob:
    """The same bytes described with another media type."""
    return Blob(media_type, blob.data)


def manifest(
    config: Blob,
    layers: Sequence[Blob],
    *,
    media_type: str = OCI_MANIFEST,
    subject: Blob | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
    declare_media_type: bool = True,
) -> Blob:
    """An image manifest (OCI or Docker v2 by ``media_type``) with whatever fields asked."""
    doc: dict[str, Any] = {"schemaVersion": 2}
    if declare_media_type:
        doc["mediaType"] = media_type
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    doc["config"] = config.descriptor()
    doc["layers"] = [layer.descriptor() for layer in layers]
    if subject is not None:
        doc["subject"] = subject.descriptor()
    if annotations:
        doc["annotations"] = annotations
    return Blob(media_type, json.dumps(doc).encode())


def index(
    children: Sequence[Blob],
    *,
    media_type: str = OCI_INDEX,
    subject: Blob | None = None,
    artifact_type: str | None = None,
) -> Blob:
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    doc["manifests"] = [
        child.descriptor(platform={"architecture": "amd64", "os": "linux"}) for child in children
    ]
    if subject is not None:
        doc["subject"] = subject.descriptor()
    return Blob(media_type, json.dumps(doc).encode())


def docker_image(label: str) -> Image:
    """A tiny runnable image in Docker v2 media types."""
    oci = images.image(label)
    config = retype(oci.config, DOCKER_CONFIG)
    layers = tuple(retype(layer, DOCKER_LAYER) for layer in oci.layers)
    return Image(manifest(config, layers, media_type=DOCKER_MANIFEST), config, layers)


def simple_signing(subject_digest: str, reference: str) -> Blob:
    """A cosign simple-signing payload blob (unsigned: only its shape matters here)."""
    return Blob(SIMPLE_SIGNING, cosign_sign.simple_signing_payload(subject_digest, reference))


def sig_config(layers: Sequence[Blob]) -> Blob:
    """The OCI image config cosign gives its ``.sig`` images."""
    return Blob(
        OCI_CONFIG,
        cosign_sign.signature_config([layer.digest for layer in layers], "2026-11-01T00:00:00Z"),
    )


class Direct:
    """Pushes straight to the registry (never through gatekeeper)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def blobs(self, repo: str, *blobs: Blob) -> None:
        for blob in blobs:
            url = f"{self.base}/v2/{repo}/blobs/{blob.digest}"
            if self.http.head(url, timeout=10).status_code == 200:
                continue
            started = self.http.post(f"{self.base}/v2/{repo}/blobs/uploads/", timeout=10)
            started.raise_for_status()
            location = started.headers["Location"]
            if location.startswith("/"):
                location = self.base + location
            done = self.http.put(
                location,
                params={"digest": blob.digest},
                data=blob.data,
                headers={"Content-Type": OCTET},
                timeout=10,
            )
            done.raise_for_status()

    def put(self, repo: str, reference: str, doc: Blob) -> None:
        response = self.http.put(
            f"{self.base}/v2/{repo}/manifests/{reference}",
            data=doc.data,
            headers={"Content-Type": doc.media_type},
            timeout=10,
        )
        assert response.status_code == 201, (repo, reference, response.text)

    def image(self, repo: str, img: Image, *references: str) -> Image:
        """Push ``img`` (blobs and manifest) under each reference (by digest when none)."""
        self.blobs(repo, *img.blobs)
        for reference in references or (img.digest,):
            self.put(repo, reference, img.manifest)
        return img

    def current(self, repo: str, reference: str) -> str | None:
        """The digest ``reference`` resolves to in the registry now, None when unknown."""
        response = self.http.head(
            f"{self.base}/v2/{repo}/manifests/{reference}",
            headers={"Accept": ACCEPT_ALL},
            timeout=10,
        )
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.status_code
        return response.headers["Docker-Content-Digest"]

    def blob_linked(self, repo: str, digest: str) -> bool:
        url = f"{self.base}/v2/{repo}/blobs/{digest}"
        return self.http.head(url, timeout=10).status_code == 200


@dataclass(frozen=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def error_code(self) -> str | None:
        try:
            doc = json.loads(self.body)
            return str(doc["errors"][0]["code"])
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    def __str__(self) -> str:
        return f"{self.status} {self.body[:300]!r}"


def send(
    base: str,
    method: str,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    timeout: float = 15.0,
) -> Reply:
    """One request; ``path`` and every header line go out exactly as given.

    A Content-Length is added for a body unless the caller framed it (Content-Length or
    Transfer-Encoding given).
    """
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None and not names & {"content-length", "transfer-encoding"}:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, tuple(response.getheaders()), data)
    finally:
        conn.close()


def chunked(body: bytes, size: int = 97) -> bytes:
    """``body`` in HTTP/1.1 chunked framing (odd chunk size on purpose)."""
    out = b""
    for start in range(0, len(body), size):
        part = body[start : start + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def multipart(fields: dict[str, str]) -> tuple[str, bytes]:
    """A multipart/form-data body: (Content-Type value, body)."""
    boundary = "gk" + os.urandom(8).hex()
    parts = b""
    for name, value in fields.items():
        parts += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    return f"multipart/form-data; boundary={boundary}", parts + f"--{boundary}--\r\n".encode()


def exchange(base: str, raw: bytes, methods: Sequence[str], timeout: float = 15.0) -> list[Reply]:
    """Write ``raw`` (several requests) on one connection; read one reply per method."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(raw)
        reader = sock.makefile("rb")
        return [_read_reply(reader, method) for method in methods]


def _read_reply(reader: Any, method: str) -> Reply:
    status_line = reader.readline()
    if not status_line:
        return Reply(0, (), b"")
    status = int(status_line.split()[1])
    headers: list[tuple[str, str]] = []
    while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    lower = {name.lower(): value for name, value in headers}
    body = b""
    if method != "HEAD" and status not in (204, 304) and status >= 200:
        if lower.get("transfer-encoding", "").lower() == "chunked":
            while (size := int(reader.readline().split(b";")[0], 16)) > 0:
                body += reader.read(size)
                reader.readline()
            reader.readline()
        elif "content-length" in lower:
            body = reader.read(int(lower["content-length"]))
        else:
            body = reader.read()
    return Reply(status, tuple(headers), body)


class Decisions:
    """gatekeeper's decision log (JSON lines), read from a mark on."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self, mark: int) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as log:
            log.seek(mark)
            data = log.read()
        lines = data.decode(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.strip().startswith("{")]

    def wait_for(
        self, mark: int, wanted: Callable[[dict[str, Any]], bool], timeout: float = 2.0
    ) -> dict[str, Any] | None:
        """The first line after ``mark`` that ``wanted`` accepts (lines are flushed soon
        after the response, so poll briefly)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.since(mark):
                if wanted(line):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


@dataclass
class Gate:
    """gatekeeper under test with the review's policy, and what it was started with."""

    process: Process
    decisions: Decisions
    verdicts: Path
    key: ec.EllipticCurvePrivateKey

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def host(self) -> str:
        return self.process.host

    def stop(self) -> None:
        self.process.stop()


def start_gate(work: Path, upstream: str, key: ec.EllipticCurvePrivateKey) -> Gate:
    """gatekeeper (enforce) with :data:`POLICY`, ``cosign.pub`` for ``key``, a Trivy verdict
    directory and a decision log, in front of ``upstream``."""
    (work / "cosign.pub").write_bytes(cosign_sign.public_key_pem(key))
    (work / "policy.yaml").write_text(POLICY)
    verdicts = work / "verdicts"
    verdicts.mkdir()
    log = work / "decisions.jsonl"
    process = start_gatekeeper(
        work,
        upstream,
        work / "policy.yaml",
        "--decision-log",
        str(log),
        "--verdicts",
        str(verdicts),
    )
    return Gate(process, Decisions(log), verdicts, key)

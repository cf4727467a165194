"""Build small real OCI images (layout on disk) and push/pull them with skopeo."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256(self.data)

    def descriptor(self, **extra: object) -> dict[str, object]:
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.data),
            **extra,
        }


@dataclass(frozen=True)
class Image:
    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.config, *self.layers)


def layer(files: dict[str, bytes]) -> Blob:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    return Blob(OCI_LAYER, gzip.compress(raw.getvalue(), mtime=0))


def image(
    label: str,
    *,
    arch: str = "amd64",
    config: dict[str, object] | None = None,
    layers: int = 1,
    history: list[dict[str, object]] | None = None,
) -> Image:
    """A tiny image whose content (and digest) is unique to ``label``."""
    blobs = tuple(
        layer({f"{label}/{i}.txt": f"{label} {i} {os.urandom(8).hex()}".encode()})
        for i in range(layers)
    )
    cfg = {
        "architecture": arch,
        "os": "linux",
        "config": config if config is not None else {"User": "1000"},
        "rootfs": {"type": "layers", "diff_ids": [sha256(gzip.decompress(b.data)) for b in blobs]},
        "history": history or [{"created_by": f"gatekeeper test {label}"}],
        "created": "2026-11-01T00:00:00Z",
    }
    config_blob = Blob(OCI_CONFIG, json.dumps(cfg, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_blob.descriptor(),
        "layers": [b.descriptor() for b in blobs],
    }
    return Image(Blob(OCI_MANIFEST, json.dumps(manifest).encode()), config_blob, blobs)


def index(images: list[Image]) -> Blob:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            img.manifest.descriptor(platform={"architecture": _arch(img), "os": "linux"})
            for img in images
        ],
    }
    return Blob(OCI_INDEX, json.dumps(doc).encode())


def _arch(img: Image) -> str:
    return str(json.loads(img.config.data)["architecture"])


def write_layout(path: Path, images: list[Image], top: Blob, tag: str) -> Path:
    """An OCI image layout holding ``images`` with ``top`` (image or index) tagged."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for img in images:
        for blob in (*img.blobs, img.manifest):
            (blobs / blob.digest.split(":")[1]).write_bytes(blob.data)
    (blobs / top.digest.split(":")[1]).write_bytes(top.data)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = top.descriptor(annotations={"org.opencontainers.image.ref.name": tag})
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    return path


def skopeo(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    cmd = ["skopeo", "--insecure-policy", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def push_layout(
    layout: Path, tag: str, dest: str, *, all_images: bool = False, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """skopeo copy oci:LAYOUT:TAG docker://DEST (plain HTTP)."""
    extra = ["--all"] if all_images else []
    return skopeo(
        "copy",
        *extra,
        "--dest-tls-verify=false",
        "--preserve-digests",
        f"oci:{layout}:{tag}",
        f"docker://{dest}",
        check=check,
    )


def push_image(
    tmp: Path, img: Image, dest: str, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    layout = write_layout(tmp / f"layout-{img.digest[7:19]}", [img], img.manifest, "t")
    return push_layout(layout, "t", dest, check=check)


@dataclass(frozen=True)
class Official:
    """A single-arch image and a two-arch index pushed as docker.io official images."""

    name: str  # library/<name>:1.0.0, single arch (amd64)
    digest: str
    multi: str  # library/<multi>:1.0.0, index of amd64 + arm64
    multi_digest: str
    arm_digest: str


def push_official(workdir: Path, host: str) -> Official:
    name = f"gk{uuid.uuid4().hex[:8]}"
    img = image(name)
    push_layout(
        write_layout(workdir / f"{name}-single", [img], img.manifest, "t"),
        "t",
        f"{host}/library/{name}:1.0.0",
    )
    amd, arm = image(f"{name}-amd", arch="amd64"), image(f"{name}-arm", arch="arm64")
    idx = index([amd, arm])
    push_layout(
        write_layout(workdir / f"{name}-multi", [amd, arm], idx, "t"),
        "t",
        f"{host}/library/{name}-multi:1.0.0",
        all_images=True,
    )
    return Official(name, img.digest, f"{name}-multi", idx.digest, arm.digest)

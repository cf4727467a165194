"""Digests of byte strings, in the canonical ``algorithm:hex`` form."""

from __future__ import annotations

import hashlib

from gatekeeper.oci.grammar import check_digest


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """Digest ``data`` with the algorithm named (sha256 or sha512)."""
    if algorithm not in ("sha256", "sha512"):
        raise ValueError(f"unsupported digest algorithm {algorithm}")
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def matches(digest: str, data: bytes) -> bool:
    """True when ``data`` hashes to ``digest`` (whose algorithm decides the hash)."""
    check_digest(digest)
    return digest_of(data, digest.split(":", 1)[0]) == digest


def tag_fallback(digest: str) -> str:
    """The tag-schema name for ``digest``: ``sha256:abc`` → ``sha256-abc``.

    Used by cosign (``.sig``/``.att`` suffixes) and by the referrers tag fallback.
    """
    return digest.replace(":", "-", 1)

"""Names, tags and digests, checked against the distribution-spec grammar.

Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
"""

from __future__ import annotations

import re

from gatekeeper.errors import DigestInvalid, NameInvalid, TagInvalid

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
# Registered algorithms and the exact shape of their encoded part (image-spec descriptor.md).
_ENCODED = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}

# distribution refuses longer repository names; so do we, before forwarding anything.
MAX_NAME_LENGTH = 255


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid repository name, else raise NAME_INVALID."""
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalid(f"repository name longer than {MAX_NAME_LENGTH} characters")
    if NAME_RE.fullmatch(name) is None:
        raise NameInvalid(
            f"invalid repository name {name[:80]!r}: lowercase letters, digits and "
            "separators (. _ __ -) in components joined by /"
        )
    return name


def check_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid tag, else raise TAG_INVALID."""
    if TAG_RE.fullmatch(tag) is None:
        raise TagInvalid(f"invalid tag {tag[:80]!r}: [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}")
    return tag


def is_digest(reference: str) -> bool:
    """True when ``reference`` has the shape of a digest (it may still be invalid)."""
    return ":" in reference


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed digest of a supported algorithm."""
    if DIGEST_RE.fullmatch(digest) is None:
        raise DigestInvalid(f"invalid digest {digest[:80]!r}: expected algorithm:hex")
    algorithm, encoded = digest.split(":", 1)
    shape = _ENCODED.get(algorithm)
    if shape is None:
        raise DigestInvalid(f"unsupported digest algorithm {algorithm!r} (sha256, sha512)")
    if shape.fullmatch(encoded) is None:
        raise DigestInvalid(f"invalid {algorithm} digest {digest[:80]!r}")
    return digest


def check_reference(reference: str) -> str:
    """A manifest reference is a tag or a digest; validate whichever it is."""
    return check_digest(reference) if is_digest(reference) else check_tag(reference)

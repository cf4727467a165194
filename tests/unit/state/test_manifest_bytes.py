from __future__ import annotations

import pytest

from gatekeeper.state.manifest_bytes import ManifestBytes, accepts

OCI = "application/vnd.oci.image.manifest.v1+json"


def test_kept_by_upstream_repository_and_digest_and_bounded() -> None:
    cache = ManifestBytes(64 * 1024)
    cache.put("https://a", "library/x", "sha256:1", b"{}", OCI)
    assert cache.get("https://a", "library/x", "sha256:1") is not None
    assert cache.get("https://b", "library/x", "sha256:1") is None
    assert cache.get("https://a", "library/y", "sha256:1") is None
    cache.put("https://a", "library/x", "sha256:big", b"x" * 10_000, OCI)  # > 1/8: not kept
    assert cache.get("https://a", "library/x", "sha256:big") is None
    for i in range(100):
        cache.put("https://a", "r", f"sha256:{i}", b"y" * 4000, OCI)
    assert cache.held_bytes <= 64 * 1024


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([OCI], True),
        ([f"application/json, {OCI};q=0.9"], True),
        (["application/json", OCI.upper()], True),
        (["*/*"], True),
        ([], False),
        (["application/vnd.docker.distribution.manifest.v2+json"], False),
    ],
)
def test_accepts(lines: list[str], expected: bool) -> None:
    assert accepts(lines, OCI) is expected


def test_max_age_and_eviction() -> None:
    cache = ManifestBytes(64 * 1024, max_age=0.05)
    cache.put("u", "r", "sha256:1", b"{}", OCI)
    assert cache.get("u", "r", "sha256:1") is not None
    cache.evict("u", "r", "sha256:1")
    assert cache.get("u", "r", "sha256:1") is None
    cache.put("u", "r", "sha256:2", b"{}", OCI)
    import time

    time.sleep(0.06)
    assert cache.get("u", "r", "sha256:2") is None

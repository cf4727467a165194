from __future__ import annotations

import json

import pytest

from gatekeeper.errors import SizeInvalid
from gatekeeper.oci.digest import digest_of
from gatekeeper.state.manifests import ParsedManifests

OCI = "application/vnd.oci.image.manifest.v1+json"


def manifest(layers: int, salt: int = 0) -> bytes:
    desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 1}
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI,
            "config": {**desc, "digest": "sha256:" + f"{salt:064x}"},
            "layers": [{**desc, "digest": "sha256:" + f"{i:064x}"} for i in range(layers)],
        }
    ).encode()


def test_a_manifest_with_too_many_layers_is_refused_while_parsing() -> None:
    cache = ParsedManifests(max_bytes=1 << 20, max_refs=100)
    data = manifest(101)
    with pytest.raises(SizeInvalid, match="at most 100"):
        cache.parse(digest_of(data), data, OCI)
    assert cache.held_bytes == 0


def test_the_cache_is_bounded_in_bytes_not_entries() -> None:
    cache = ParsedManifests(max_bytes=1 << 20, max_refs=1000)
    for salt in range(400):  # 400 distinct manifests of ~24 KB each
        data = manifest(200, salt)
        assert len(cache.parse(digest_of(data), data, OCI).layers) == 200
        assert cache.held_bytes <= 1 << 20

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gatekeeper.errors import ManifestInvalid
from gatekeeper.oci.image_config import parse_image_config
from gatekeeper.oci.manifest import parse_manifest
from gatekeeper.policy.evidence import ImageFacts
from gatekeeper.policy.image_checks import merge_platforms

MANIFEST = parse_manifest(
    json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + "1" * 64,
                "size": 10,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + "2" * 64,
                    "size": 1000,
                },
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + "3" * 64,
                    "size": 500,
                },
            ],
        }
    ).encode()
)


def config(**fields: Any) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", **fields}).encode()


def test_facts_from_a_docker_config() -> None:
    data = config(
        created="2024-05-01T12:00:00.123456789Z",
        config={
            "User": "65532:65532",
            "Env": ["PATH=/bin", "API_TOKEN=x"],
            "Healthcheck": {"Test": ["CMD", "true"]},
            "Labels": {"a": "b"},
        },
        history=[{"created_by": "ADD https://example.com/x /x"}, {"empty_layer": True}],
    )
    facts = parse_image_config(data, MANIFEST)
    assert facts.user == "65532:65532"
    assert facts.env == ("PATH=/bin", "API_TOKEN=x")
    assert facts.healthcheck
    assert facts.created == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert facts.labels == {"a": "b"}
    assert facts.history == ("ADD https://example.com/x /x", "")
    assert facts.size_bytes == 1500 + len(data)


@pytest.mark.parametrize(
    ("fields", "user", "healthcheck"),
    [
        ({}, "", False),
        ({"config": None}, "", False),
        ({"config": {"Healthcheck": {"Test": ["NONE"]}}}, "", False),
        ({"config": {"User": 0, "Env": "x", "Labels": []}}, "", False),
        ({"created": "not a time", "history": "x"}, "", False),
    ],
)
def test_odd_but_valid_configs(fields: dict[str, Any], user: str, healthcheck: bool) -> None:
    facts = parse_image_config(config(**fields), MANIFEST)
    assert (facts.user, facts.healthcheck, facts.created) == (user, healthcheck, None)


@pytest.mark.parametrize("data", [b"nope", b"[]", config(config="x")])
def test_invalid_configs(data: bytes) -> None:
    with pytest.raises(ManifestInvalid):
        parse_image_config(data, MANIFEST)


def test_index_keeps_the_worst_of_its_platforms() -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    new = datetime(2026, 1, 1, tzinfo=UTC)
    amd = ImageFacts(
        user="1000",
        env=("A=1",),
        healthcheck=True,
        created=new,
        labels={"team": "x", "base": "alpine"},
        history=("RUN a",),
        size_bytes=10,
    )
    arm = ImageFacts(
        user="root",
        env=("B=2",),
        healthcheck=False,
        created=old,
        labels={"team": "x", "base": "debian"},
        history=("RUN b",),
        size_bytes=30,
    )
    merged = merge_platforms([amd, arm])
    assert merged.user == "root"
    assert merged.env == ("A=1", "B=2")
    assert not merged.healthcheck
    assert merged.created == old
    assert merged.labels == {"team": "x"}
    assert merged.history == ("RUN a", "RUN b")
    assert merged.size_bytes == 30
    assert merge_platforms([amd, ImageFacts(user="1000")]).created is None
    with pytest.raises(ManifestInvalid):
        merge_platforms([])

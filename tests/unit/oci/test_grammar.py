from __future__ import annotations

import pytest

from gatekeeper.errors import DigestInvalid, NameInvalid, TagInvalid
from gatekeeper.oci.grammar import check_digest, check_name, check_reference, check_tag

HEX64 = "a" * 64


@pytest.mark.parametrize(
    "name",
    ["a", "library/alpine", "team/app/sub", "a.b_c__d-e--f", "x9/y8", "a" * 255],
)
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "A",
        "a/",
        "/a",
        "a//b",
        "a..b",
        "a___b",
        "-a",
        "a-",
        "a b",
        "a%2Fb",
        "ä",
        "a" * 256,
        "a/../b",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(NameInvalid):
        check_name(name)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b.C_d", "t" * 128])
def test_valid_tags(tag: str) -> None:
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a/b", "t" * 129, "a:b", "a b"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(TagInvalid):
        check_tag(tag)


@pytest.mark.parametrize("digest", [f"sha256:{HEX64}", "sha512:" + "0" * 128])
def test_valid_digests(digest: str) -> None:
    assert check_digest(digest) == digest


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "g" * 64,
        "md5:" + "0" * 32,
        "sha256",
        ":abc",
        "sha512:" + "0" * 64,
        "SHA256:" + HEX64,
    ],
)
def test_invalid_digests(digest: str) -> None:
    with pytest.raises(DigestInvalid):
        check_digest(digest)


def test_reference_is_tag_or_digest() -> None:
    assert check_reference("v1") == "v1"
    assert check_reference(f"sha256:{HEX64}") == f"sha256:{HEX64}"
    with pytest.raises(DigestInvalid):
        check_reference("sha256:nothex")

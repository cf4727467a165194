from __future__ import annotations

import pytest
from yarl import URL

from gatekeeper.proxy.headers import request_headers, response_headers, rewrite_location

UPSTREAM = URL("http://registry:5000")
CLIENT = "https://gate.example:8443"


def test_repeated_request_lines_survive_and_hop_by_hop_go() -> None:
    headers = request_headers(
        [
            ("Accept", "application/vnd.oci.image.manifest.v1+json"),
            ("Accept", "application/vnd.docker.distribution.manifest.v2+json"),
            ("Connection", "keep-alive"),
            ("Host", "gate"),
            ("Transfer-Encoding", "chunked"),
            ("Authorization", "Bearer x"),
            ("Proxy-Authorization", "Basic y"),
        ]
    )
    assert headers.getall("Accept") == [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
    assert "Connection" not in headers and "Host" not in headers
    assert "Transfer-Encoding" not in headers and "Proxy-Authorization" not in headers
    assert headers["Authorization"] == "Bearer x"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (
            "http://registry:5000/v2/a/blobs/uploads/u?_state=abc%3D%3D&x=1",
            f"{CLIENT}/v2/a/blobs/uploads/u?_state=abc%3D%3D&x=1",
        ),
        ("/v2/a/blobs/uploads/u?_state=s", "/v2/a/blobs/uploads/u?_state=s"),
        ("https://s3.example/bucket/blob?sig=1", "https://s3.example/bucket/blob?sig=1"),
        ("http://registry:5001/v2/", "http://registry:5001/v2/"),
    ],
)
def test_location_rewrite_changes_only_the_origin(location: str, expected: str) -> None:
    assert rewrite_location(location, UPSTREAM, CLIENT) == expected


def test_response_headers_keep_link_and_repeat_lines() -> None:
    out = response_headers(
        [
            ("Link", '</v2/_catalog?last=b&n=1>; rel="next"'),
            ("Server", "x"),
            ("Location", "http://registry:5000/v2/x"),
            ("Warning", "a"),
            ("Warning", "b"),
            ("Connection", "close"),
        ],
        UPSTREAM,
        CLIENT,
    )
    assert out["Link"] == '</v2/_catalog?last=b&n=1>; rel="next"'
    assert out["Location"] == f"{CLIENT}/v2/x"
    assert out.getall("Warning") == ["a", "b"]
    assert "Server" not in out and "Connection" not in out

from __future__ import annotations

import pytest

from gatekeeper.errors import UpstreamProtocolError
from gatekeeper.proxy.headers import request_headers, response_headers
from gatekeeper.proxy.location import Origins

UPSTREAM = "http://registry:5000"
BASE = f"{UPSTREAM}/v2/a/blobs/uploads/"
ORIGINS = Origins(UPSTREAM)
FORWARDING = [
    ("Forwarded", "for=1.2.3.4;host=evil.example;proto=https"),
    ("X-Forwarded-For", "1.2.3.4"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Port", "443"),
    ("X-Real-IP", "1.2.3.4"),
]


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
    ("keep_forwarding", "expected"),
    [
        (False, []),  # a client's claims about where it is never reach the registry
        (True, FORWARDING),  # a trusted proxy's do
    ],
)
def test_forwarding_headers_cross_only_when_kept(
    keep_forwarding: bool, expected: list[tuple[str, str]]
) -> None:
    items = [("Host", "evil.example"), ("User-Agent", "ua"), *FORWARDING]
    headers = request_headers(items, keep_forwarding=keep_forwarding)
    assert list(headers.items()) == [("User-Agent", "ua"), *expected]


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
        200,
        BASE,
        ORIGINS,
    )
    assert out["Link"] == '</v2/_catalog?last=b&n=1>; rel="next"'
    assert out["Location"] == "/v2/x"
    assert out.getall("Warning") == ["a", "b"]
    assert "Server" not in out and "Connection" not in out


OWN = "http://registry:5000/v2/a/blobs/uploads/u?_state=abc%3D%3D"
FOREIGN = "https://s3.example/bucket/blob?X-Amz-Signature=secret"


@pytest.mark.parametrize(
    ("status", "location", "origins", "expected"),
    [
        # the upstream's own locations are relayed, relative or under --public-url
        (202, OWN, ORIGINS, "/v2/a/blobs/uploads/u?_state=abc%3D%3D"),
        (201, OWN, ORIGINS, "/v2/a/blobs/uploads/u?_state=abc%3D%3D"),
        (307, OWN, ORIGINS, "/v2/a/blobs/uploads/u?_state=abc%3D%3D"),
        (
            202,
            OWN,
            Origins(UPSTREAM, "https://gate.example"),
            "https://gate.example/v2/a/blobs/uploads/u?_state=abc%3D%3D",
        ),
        # a foreign location on an answer that is complete without it: the header goes
        (201, FOREIGN, ORIGINS, None),
        (200, FOREIGN, ORIGINS, None),
        (404, FOREIGN, ORIGINS, None),
        (500, FOREIGN, ORIGINS, None),
        # one the client would have to follow (redirect, upload session): refused, 502
        (202, FOREIGN, ORIGINS, UpstreamProtocolError),
        (301, FOREIGN, ORIGINS, UpstreamProtocolError),
        (302, "//evil.example/v2/x", ORIGINS, UpstreamProtocolError),
        (307, FOREIGN, ORIGINS, UpstreamProtocolError),
        (308, FOREIGN, Origins(UPSTREAM, "https://gate.example"), UpstreamProtocolError),
    ],
)
def test_location_by_status(
    status: int, location: str, origins: Origins, expected: str | type[Exception] | None
) -> None:
    items = [("Location", location), ("Content-Length", "0")]
    if isinstance(expected, type):
        with pytest.raises(expected) as caught:
            response_headers(items, status, BASE, origins)
        assert "s3.example" not in str(caught.value) and "secret" not in str(caught.value)
        return
    out = response_headers(items, status, BASE, origins)
    assert out.get("Location") == expected
    assert out["Content-Length"] == "0"


def test_foreign_location_logs_only_its_origin(caplog: pytest.LogCaptureFixture) -> None:
    response_headers([("Location", FOREIGN)], 201, BASE, ORIGINS)
    assert "https://s3.example" in caplog.text
    assert "secret" not in caplog.text and "bucket" not in caplog.text

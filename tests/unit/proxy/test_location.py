"""Which upstream ``Location`` values lead back through gatekeeper, and in what form."""

from __future__ import annotations

import pytest

from gatekeeper.proxy.location import Origins, origin_for_log

UPSTREAM = "http://registry:5000"
BASE = "http://registry:5000/v2/a/blobs/uploads/"
STATE = "/v2/a/blobs/uploads/u?_state=abc%3D%3D&x=1"


@pytest.mark.parametrize(
    ("origins", "location", "expected"),
    [
        # on the upstream: relative, path and query byte for byte
        (Origins(UPSTREAM), f"http://registry:5000{STATE}", STATE),
        (Origins(UPSTREAM), f"http://REGISTRY:5000{STATE}", STATE),
        (Origins(UPSTREAM), STATE, STATE),
        (Origins(UPSTREAM), "u2?_state=a%2Fb", "/v2/a/blobs/uploads/u2?_state=a%2Fb"),
        (Origins(UPSTREAM), "/v2/a/blobs/uploads/u#frag", "/v2/a/blobs/uploads/u"),
        (Origins(UPSTREAM), "/v2", "/v2"),
        # the registry reached over https on a custom port: another scheme, same authority
        (Origins(UPSTREAM), f"https://registry:5000{STATE}", STATE),
        (Origins("https://registry"), f"https://registry:443{STATE}", STATE),
        (Origins("http://[::1]:5000"), f"http://[::1]:5000{STATE}", STATE),
        # --public-url: absolute under it
        (Origins(UPSTREAM, "https://gate.example"), STATE, f"https://gate.example{STATE}"),
        (
            Origins(UPSTREAM, "https://gate.example:8443"),
            f"http://registry:5000{STATE}",
            f"https://gate.example:8443{STATE}",
        ),
        # an upstream under a base path: the prefix goes, and nothing outside it is ours
        (Origins("http://registry:5000/reg"), f"http://registry:5000/reg{STATE}", STATE),
        (Origins("http://registry:5000/reg/"), f"/reg{STATE}", STATE),
        (Origins("http://registry:5000/reg"), STATE, None),
        (Origins("http://registry:5000/reg"), "/register/v2/x", None),
        # hosts a trusted proxy forwarded (the registry builds locations from them)
        (Origins(UPSTREAM, vouched=("gate.example",)), f"https://gate.example{STATE}", STATE),
        (Origins(UPSTREAM, vouched=("gate.example:8443",)), f"https://gate.example{STATE}", None),
        (Origins(UPSTREAM, vouched=("[bad",)), f"https://gate.example{STATE}", None),
        # foreign: another host, port, scheme-relative host, user info, other schemes
        (Origins(UPSTREAM), f"http://evil.example{STATE}", None),
        (Origins(UPSTREAM), f"http://registry:5001{STATE}", None),
        (Origins(UPSTREAM), f"//evil.example{STATE}", None),
        (Origins(UPSTREAM), f"http://registry:5000@evil.example{STATE}", None),
        (Origins(UPSTREAM), f"http://evil@registry:5000{STATE}", None),
        (Origins(UPSTREAM), "https://s3.example/bucket/blob?X-Amz-Signature=1", None),
        (Origins(UPSTREAM), "ftp://registry:5000/v2/x", None),
        (Origins(UPSTREAM), "http://registry:99999/v2/x", None),
        (Origins(UPSTREAM), "http://[::1/v2/x", None),
        # on the upstream but nothing gatekeeper serves, or a path a browser reads as a host
        (Origins(UPSTREAM), "/token?scope=x", None),
        (Origins(UPSTREAM), "/\\evil.example/v2/x", None),
        (Origins(UPSTREAM), "http://registry:5000/v2x", None),
    ],
)
def test_rewrite(origins: Origins, location: str, expected: str | None) -> None:
    assert origins.rewrite(location, BASE) == expected


def test_a_client_host_never_appears() -> None:
    """Nothing about the client is an input: the same upstream answer, the same result."""
    origins = Origins(UPSTREAM)
    assert origins.rewrite(f"http://registry:5000{STATE}", BASE) == STATE
    assert "evil" not in (origins.rewrite(f"http://evil.example{STATE}", BASE) or "")


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://s3.example/b/x?X-Amz-Signature=secret", "https://s3.example"),
        ("https://user:pw@s3.example:9000/b", "https://s3.example:9000"),
        ("//cdn.example/x", "http://cdn.example"),
        ("http://[::1/x", "an unparsable URL"),
    ],
)
def test_origin_for_log_keeps_no_path_query_or_user_info(location: str, expected: str) -> None:
    assert origin_for_log(location, BASE) == expected

"""Pure checks of the harness helpers (config text, scopes, JWT signing); no processes."""

from __future__ import annotations

import base64
import re
import time
import tomllib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.helpers import engines
from tests.helpers.htpasswd import htpasswd_auth_config
from tests.helpers.token_server import (
    Scope,
    TokenServer,
    decode_jwt_claims,
    decode_jwt_header,
    libtrust_key_id,
)

GATE = "http://127.0.0.1:5123"


def test_containerd_mirror_hosts_toml_keeps_the_real_registry_as_server() -> None:
    doc = tomllib.loads(engines.containerd_hosts_toml("docker.io", GATE, "mirror"))
    assert doc["server"] == "https://registry-1.docker.io"
    assert doc["host"][GATE] == {"capabilities": ["pull", "resolve"]}
    other = tomllib.loads(engines.containerd_hosts_toml("ghcr.io", GATE, "mirror"))
    assert other["server"] == "https://ghcr.io"


def test_containerd_server_hosts_toml_has_the_host_table_containerd_16_needs() -> None:
    doc = tomllib.loads(
        engines.containerd_hosts_toml(
            "docker.io", "https://127.0.0.1:5123", "server", Path("/ca.crt")
        )
    )
    assert doc["server"] == "https://127.0.0.1:5123"
    assert doc["ca"] == "/ca.crt"
    assert doc["host"]["https://127.0.0.1:5123"] == {"ca": "/ca.crt"}


@pytest.mark.parametrize(
    ("mode", "registry"),
    [
        (
            "mirror",
            {
                "prefix": "docker.io",
                "location": "docker.io",
                "mirror": [{"location": "127.0.0.1:5123", "insecure": True}],
            },
        ),
        (
            "blocked",
            {
                "prefix": "docker.io",
                "location": "docker.io",
                "blocked": True,
                "mirror": [{"location": "127.0.0.1:5123", "insecure": True}],
            },
        ),
        ("remap", {"prefix": "docker.io", "location": "127.0.0.1:5123", "insecure": True}),
    ],
)
def test_podman_registries_conf(mode: engines.PodmanMode, registry: dict[str, object]) -> None:
    doc = tomllib.loads(engines.podman_registries_conf(["docker.io"], GATE, mode))
    assert doc["registry"] == [registry]


def test_podman_registries_conf_https_gate_is_not_insecure_and_none_is_direct() -> None:
    doc = tomllib.loads(
        engines.podman_registries_conf(["docker.io"], "https://127.0.0.1:5123", "remap")
    )
    assert doc["registry"][0]["insecure"] is False
    assert "registry" not in tomllib.loads(engines.podman_registries_conf(["docker.io"], None))


@pytest.mark.parametrize("url", ["127.0.0.1:5000", "http://127.0.0.1:5000/", "ftp://x"])
def test_endpoint_rejects_what_engine_configs_cannot_hold(url: str) -> None:
    with pytest.raises(ValueError, match="registry URL"):
        engines.Endpoint(url)


def test_scope_parse_keeps_a_host_port_in_the_name() -> None:
    assert Scope.parse("repository:127.0.0.1:5000/foo:pull,push") == Scope(
        "repository", "127.0.0.1:5000/foo", ("pull", "push")
    )
    assert Scope.parse("registry:catalog:*") == Scope("registry", "catalog", ("*",))
    with pytest.raises(ValueError, match="bad scope"):
        Scope.parse("repository")


def _verify_es256(token: str, key: ec.EllipticCurvePublicKey) -> None:
    signing_input, _, sig = token.rpartition(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    assert len(raw) == 64  # JWS ES256 is r || s, not DER
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))


def test_x5c_token_is_signed_by_a_certificate_the_bundle_ca_issued(tmp_path: Path) -> None:
    server = TokenServer(tmp_path, users={"alice": "pw"}, anonymous_pull=["public/*"])
    token = server.issue(None, ["repository:public/app:pull,push", "repository:private/x:pull"])
    header = decode_jwt_header(token)
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))  # type: ignore[index]
    leaf.verify_directly_issued_by(server.ca.cert)
    assert leaf.public_key() == server.signer.key.public_key()
    _verify_es256(token, server.signer.key.public_key())
    claims = decode_jwt_claims(token)
    assert claims["aud"] == server.service
    assert claims["iss"] == server.issuer
    assert claims["access"] == [{"type": "repository", "name": "public/app", "actions": ["pull"]}]
    bundle = x509.load_pem_x509_certificates(server.bundle_path.read_bytes())
    assert [c.subject for c in bundle] == [server.ca.cert.subject, server.signer.cert.subject]


def test_kid_token_names_the_signer_by_libtrust_fingerprint(tmp_path: Path) -> None:
    server = TokenServer(tmp_path, users={"bob": "pw"}, grants={"bob": ["team/*"]}, key_mode="kid")
    token = server.issue("bob", ["repository:team/app:pull,push", "repository:other/app:pull"])
    kid = decode_jwt_header(token)["kid"]
    assert isinstance(kid, str)
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", kid)
    assert kid == libtrust_key_id(server.signer.key.public_key())
    _verify_es256(token, server.signer.key.public_key())
    assert decode_jwt_claims(token)["access"] == [
        {"type": "repository", "name": "team/app", "actions": ["pull", "push"]}
    ]


def test_backdated_tokens_are_expired_beyond_distributions_leeway(tmp_path: Path) -> None:
    server = TokenServer(tmp_path, expires_in=60)
    server.backdate = 200
    claims = decode_jwt_claims(server.issue(None, []))
    assert isinstance(claims["exp"], int)
    assert claims["exp"] + 60 < time.time()  # distribution's leeway is 60 s


def test_htpasswd_config_writes_bcrypt_entries(tmp_path: Path) -> None:
    config = htpasswd_auth_config(tmp_path, {"alice": "pw"})
    assert (
        config == f"auth:\n  htpasswd:\n    realm: gatekeeper-test\n    path: {tmp_path}/htpasswd\n"
    )
    assert (tmp_path / "htpasswd").read_text().startswith("alice:$2y$")

"""Loading Sigstore trusted roots: the embedded production root, test roots, bad roots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.trusted_root import (
    load_trusted_root,
    load_trusted_root_file,
    production_trusted_root,
)
from tests.unit.trust.conftest import fixture_trusted_root_bytes

PRODUCTION_REKOR = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
PRODUCTION_CT_2022 = "dd3d306ac6c7113263191e1c99673702a24a5eb8de3cadff878a72802f29ee8e"


def test_production_root_is_sigstores_embedded_root() -> None:
    root = production_trusted_root()
    assert PRODUCTION_REKOR in {key.log_id for key in root.rekor}
    assert PRODUCTION_CT_2022 in {key.log_id for key in root.ctlogs}
    subjects = {cert.subject.rfc4514_string() for ca in root.fulcio for cert in ca.chain}
    assert "CN=sigstore,O=sigstore.dev" in subjects
    assert root.sigstore is not None  # what sigstore-python's Verifier is built from
    assert production_trusted_root() is root  # parsed once


_PUBLIC_PRODUCTION = """
from cryptography.hazmat.primitives.serialization import Encoding
from sigstore.models import ClientTrustConfig
root = ClientTrustConfig.production(offline=True).trusted_root
print(",".join(sorted(cert.public_bytes(Encoding.DER).hex() for cert in root.get_fulcio_certs())))
"""


def test_production_root_matches_sigstores_public_api(tmp_path: Path) -> None:
    # sigstore's public ClientTrustConfig.production(offline=True) seeds a fresh TUF cache
    # from the same shipped file: if sigstore moved or changed it, this disagrees.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", _PUBLIC_PRODUCTION],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    ours = sorted(
        cert.public_bytes(Encoding.DER).hex()
        for ca in production_trusted_root().fulcio
        for cert in ca.chain
    )
    assert out.split(",") == ours


def test_log_key_lookup_checks_validity_window() -> None:
    root = production_trusted_root()
    assert root.rekor_key(PRODUCTION_REKOR, datetime(2023, 1, 1, tzinfo=UTC)).key.key_id
    with pytest.raises(SignatureRejected, match="not valid at"):
        root.rekor_key(PRODUCTION_REKOR, datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(SignatureRejected, match="not in the trusted root"):
        root.rekor_key("00" * 32, datetime(2023, 1, 1, tzinfo=UTC))
    with pytest.raises(SignatureRejected, match="CT log"):
        root.ct_key("00" * 32, datetime(2023, 1, 1, tzinfo=UTC))


def test_fulcio_certificates_respect_ca_validity() -> None:
    root = production_trusted_root()
    # The 2021 CA's window ended 2022-12-31; the current CA starts 2022-04-13.
    assert len(root.fulcio_certificates(datetime(2021, 6, 1, tzinfo=UTC))) == 1
    assert len(root.fulcio_certificates(datetime(2024, 6, 1, tzinfo=UTC))) == 2
    assert root.fulcio_certificates(datetime(2020, 1, 1, tzinfo=UTC)) == []


def test_client_trust_config_wrapping_is_accepted() -> None:
    inner = json.loads(fixture_trusted_root_bytes())
    wrapped = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": inner,
    }
    root = load_trusted_root(json.dumps(wrapped).encode(), "config")
    assert [key.log_id for key in root.rekor] == [PRODUCTION_REKOR]


def test_file_loading_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "trusted_root.json"
    path.write_bytes(fixture_trusted_root_bytes())
    root = load_trusted_root_file(path)
    assert root.source == str(path)
    assert len(root.sha256) == 64
    with pytest.raises(TrustError, match="cannot read trusted root"):
        load_trusted_root_file(tmp_path / "missing.json")


def _mutated(change: str) -> bytes:
    doc = json.loads(fixture_trusted_root_bytes())
    if change == "media type":
        doc["mediaType"] = "application/json"
    elif change == "no start":
        del doc["certificateAuthorities"][0]["validFor"]["start"]
    elif change == "bad base64":
        doc["tlogs"][0]["publicKey"]["rawBytes"] = "%%%"
    elif change == "bad certificate":
        doc["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] = "AAAA"
    elif change == "empty chain":
        doc["certificateAuthorities"][0]["certChain"]["certificates"] = []
    elif change == "tlogs not a list":
        doc["tlogs"] = {}
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("media type", "not a Sigstore trusted root"),
        ("no start", "validFor.start is required"),
        ("bad base64", "invalid trusted root"),
        ("bad certificate", "invalid trusted root"),
        ("empty chain", "no certificates"),
        ("tlogs not a list", "expected a list"),
    ],
)
def test_malformed_roots_are_configuration_errors(change: str, reason: str) -> None:
    with pytest.raises(TrustError, match=reason):
        load_trusted_root(_mutated(change), "root.json")


@pytest.mark.parametrize("data", [b"", b"[]", b"{", b'{"a":1,"a":2}'])
def test_non_roots_are_refused(data: bytes) -> None:
    with pytest.raises(TrustError):
        load_trusted_root(data, "root.json")


def test_unusable_log_key_types_are_skipped_not_fatal() -> None:
    doc = json.loads(fixture_trusted_root_bytes())
    extra = json.loads(json.dumps(doc["tlogs"][0]))
    # An X25519 key (not a signing key) standing in for a future key type.
    extra["publicKey"]["rawBytes"] = "MCowBQYDK2VuAyEAhvWxvWsX0d3fK7Ro5cCtC3h6aCjdjMdl0xIDk2d+rSE="
    doc["tlogs"].append(extra)
    root = load_trusted_root(json.dumps(doc).encode(), "root.json")
    assert len(root.rekor) == 1
    assert len(root.skipped) == 1
    assert "not supported" in root.skipped[0]

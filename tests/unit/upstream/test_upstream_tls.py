"""``--upstream-ca`` adds a CA to the system's; it never replaces them."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from gatekeeper.errors import ConfigError
from gatekeeper.upstream.client import upstream_tls
from tests.helpers import pki

REPO = Path(__file__).resolve().parents[3]
SUBJECTS = """
import json, sys
from pathlib import Path
from gatekeeper.upstream.client import upstream_tls
context = upstream_tls(Path(sys.argv[1]))
names = [dict(x[0] for x in c["subject"]).get("commonName") for c in context.get_ca_certs()]
print(json.dumps(names))
"""


def test_the_default_store_and_the_given_ca_are_both_loaded(tmp_path: Path) -> None:
    # SSL_CERT_FILE stands in for the system store: OpenSSL's default verify paths read it.
    system = pki.make_ca(tmp_path / "system", common_name="stand-in system CA")
    private = pki.make_ca(tmp_path / "private", common_name="private upstream CA")
    done = subprocess.run(
        [sys.executable, "-c", SUBJECTS, str(private.cert_path)],
        env={**os.environ, "SSL_CERT_FILE": str(system.cert_path), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(json.loads(done.stdout)) == {"stand-in system CA", "private upstream CA"}


def test_the_real_system_store_stays(tmp_path: Path) -> None:
    bundle = ssl.get_default_verify_paths().cafile
    if bundle is None or not Path(bundle).exists():
        pytest.skip("no CA bundle at the default verify path")
    private = pki.make_ca(tmp_path / "private", common_name="private upstream CA")
    names = [
        dict(x[0] for x in c["subject"]) for c in upstream_tls(private.cert_path).get_ca_certs()
    ]
    assert {"commonName": "private upstream CA"} in [
        {"commonName": n.get("commonName")} for n in names
    ]
    assert len(names) > 10  # the public roots are still there


def test_an_unreadable_bundle_is_one_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="--upstream-ca"):
        upstream_tls(bad)
    with pytest.raises(ConfigError, match="--upstream-ca"):
        upstream_tls(tmp_path / "missing.pem")

"""Throwaway X.509 material for tests: a CA, TLS server certificates, a token-signing certificate.

Everything is made with ``cryptography`` in memory (ECDSA P-256, no network) and written as PEM
files under a directory the test owns. :func:`start_tls_registry` runs distribution over HTTPS.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.helpers.processes import REGISTRY_CONFIG, Process, free_port

_VALID = datetime.timedelta(days=2)


@dataclass(frozen=True)
class KeyPair:
    """A certificate with its private key, both also on disk as PEM."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return KeyPair(cert, key, cert_path, key_path)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(directory: Path, name: str = "ca", common_name: str = "gatekeeper test CA") -> KeyPair:
    """A self-signed CA certificate ``DIR/NAME.crt`` and key ``DIR/NAME.key``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, name, cert, key)


def issue(
    ca: KeyPair,
    directory: Path,
    name: str,
    *,
    common_name: str,
    hosts: Sequence[str] = (),
    server: bool = True,
) -> KeyPair:
    """A leaf certificate signed by ``ca``.

    ``hosts`` become subjectAltNames (IP addresses or DNS names); ``server`` adds the serverAuth
    extended key usage a TLS client requires (a token-signing certificate needs none).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if server:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return _write(directory, name, builder.sign(ca.key, hashes.SHA256()), key)


def server_cert(ca: KeyPair, directory: Path, name: str = "server") -> KeyPair:
    """A TLS server certificate for ``127.0.0.1``, ``::1`` and ``localhost``."""
    return issue(
        ca, directory, name, common_name="127.0.0.1", hosts=("127.0.0.1", "::1", "localhost")
    )


def start_tls_registry(
    workdir: Path, server: KeyPair, ca: KeyPair, extra_config: str = ""
) -> Process:
    """CNCF distribution serving HTTPS with ``server`` (``processes.start_registry`` can only
    wait for plain HTTP). ``extra_config`` is appended at top level, as there."""
    port = free_port()
    root = workdir / "storage"
    root.mkdir(parents=True, exist_ok=True)
    tls = f"  tls:\n    certificate: {server.cert_path}\n    key: {server.key_path}\n"
    config = workdir / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(root=root, port=port, extra=tls + extra_config))
    log_path = workdir / "registry.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/v2/", verify=str(ca.cert_path), timeout=1).status_code in (
                200,
                401,
            ):
                return Process(proc, url, log_path)
        time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    raise RuntimeError(f"TLS registry did not start:\n{log_path.read_text()}")

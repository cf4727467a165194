"""A real RFC 3161 time-stamping authority for tests: OpenSSL's ``openssl ts -reply``.

The TSA's root and signing certificate are made here with ``cryptography`` (the signing
certificate carries the critical ``timeStamping`` extended key usage RFC 3161 §2.3 asks for);
tokens are produced by the OpenSSL command line, an independent RFC 3161 implementation, over
the SHA-256 of the bytes to stamp (for Notation: the envelope's primitive signature).
"""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.helpers.notation_sign import Key, _usage, name

BASELINE_POLICY = "0.4.0.2023.1.1"  # RFC 3628 §5.2 baseline time-stamp policy
_NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Tsa:
    root: x509.Certificate
    cert: x509.Certificate
    key: Key


def make_tsa(cn: str = "Test TSA") -> Tsa:
    """A self-signed TSA root and a time-stamping certificate issued by it."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name(f"{cn} Root")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(days=30))
        .not_valid_after(_NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(signing=False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(days=30))
        .not_valid_after(_NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    return Tsa(root, cert, key)


def stamp(
    tsa: Tsa, data: bytes, *, accuracy: str | None = "secs:1", policy: str = "1.2.3.4.1"
) -> bytes:
    """A TimeStampToken (DER CMS SignedData) from ``openssl ts -reply`` over sha256(data)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pem = serialization.Encoding.PEM
        (d / "tsa.pem").write_bytes(tsa.cert.public_bytes(pem))
        (d / "chain.pem").write_bytes(tsa.cert.public_bytes(pem) + tsa.root.public_bytes(pem))
        (d / "tsa.key").write_bytes(
            tsa.key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (d / "serial").write_text("01\n")
        lines = [
            "[tsa]",
            "default_tsa = gk",
            "[gk]",
            f"serial = {d / 'serial'}",
            f"signer_cert = {d / 'tsa.pem'}",
            f"certs = {d / 'chain.pem'}",
            f"signer_key = {d / 'tsa.key'}",
            "signer_digest = sha256",
            f"default_policy = {policy}",
            "digests = sha256",
            "ordering = no",
            "tsa_name = no",
            "ess_cert_id_chain = no",
            "ess_cert_id_alg = sha256",
        ]
        if accuracy:
            lines.append(f"accuracy = {accuracy}")
        (d / "ts.cnf").write_text("\n".join(lines) + "\n")
        digest = hashlib.sha256(data).hexdigest()
        query = [
            "openssl", "ts", "-query", "-digest", digest, "-sha256", "-cert", "-no_nonce",
            "-out", str(d / "q.tsq"),
        ]  # fmt: skip
        subprocess.run(query, check=True, capture_output=True)
        reply = [
            "openssl", "ts", "-reply", "-config", str(d / "ts.cnf"), "-queryfile",
            str(d / "q.tsq"), "-token_out", "-out", str(d / "token.der"),
        ]  # fmt: skip
        subprocess.run(reply, check=True, capture_output=True)
        return (d / "token.der").read_bytes()

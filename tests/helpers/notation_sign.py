"""A Notation-format signer for tests (JWS and COSE, made with ``cryptography`` and ``cbor2``).

Follows ``signature-envelope-jws.md`` / ``signature-envelope-cose.md`` of the Notary Project
specifications; checked against the real notation-go vectors in ``tests/assets/notation`` by
``tests/unit/trust/test_notation_vectors.py`` (both verify with the same verifier).
:func:`push_notation_signature` attaches an envelope as Notation does: a signature manifest
with artifactType ``application/vnd.cncf.notary.signature`` and a ``subject``, listed in the
``sha256-<hex>`` referrers tag index (the registry here has no referrers API).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.helpers.images import OCI_INDEX, OCI_MANIFEST, sha256
from tests.helpers.registry_push import push_blob, push_manifest

SIGNATURE_TYPE = "application/vnd.cncf.notary.signature"
PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
JWS = "application/jose+json"
COSE = "application/cose"
TIMESTAMP = "io.cncf.notary.timestampSignature"
_NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
_COSE_ALG = {"PS256": -37, "PS384": -38, "PS512": -39, "ES256": -7, "ES384": -35, "ES512": -36}

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Signer:
    key: Key
    chain: tuple[x509.Certificate, ...]  # leaf first, root last

    @property
    def alg(self) -> str:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return {2048: "PS256", 3072: "PS384", 4096: "PS512"}[self.key.key_size]
        return {256: "ES256", 384: "ES384", 521: "ES512"}[self.key.curve.key_size]


def name(cn: str, org: str = "Acme", country: str = "US", state: str = "WA") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, state),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(cn: str = "Acme Test Root", key: Key | None = None) -> Signer:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = name(cn)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(days=30))
        .not_valid_after(_NOW + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(signing=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Signer(key, (cert,))


def make_signer(
    ca: Signer,
    cn: str = "release",
    *,
    org: str = "Acme",
    key: Key | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    eku: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.CODE_SIGNING,),
    subject: x509.Name | None = None,
) -> Signer:
    """A code-signing leaf issued by ``ca`` (chain: leaf, root)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or name(cn, org))
        .issuer_name(ca.chain[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or _NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or _NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signing=True), critical=True)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256())
    return Signer(key, (cert, *ca.chain))


def subject(text: str) -> x509.Name:
    """An x509 Name from ``C=US, ST=WA, L=Seattle, O=…, OU=…, CN=…`` (no escapes)."""
    oids = {
        "C": NameOID.COUNTRY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME,
        "L": NameOID.LOCALITY_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "CN": NameOID.COMMON_NAME,
    }
    parts = [part.strip().partition("=") for part in text.split(",")]
    return x509.Name([x509.NameAttribute(oids[k], v) for k, _, v in parts])


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def descriptor(manifest: bytes, media_type: str = OCI_MANIFEST) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(manifest), "size": len(manifest)}


def _raw_signature(signer: Signer, data: bytes) -> bytes:
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[
        signer.alg[2:]
    ]
    if isinstance(signer.key, rsa.RSAPrivateKey):
        pss = padding.PSS(padding.MGF1(digest), padding.PSS.DIGEST_LENGTH)
        return signer.key.sign(data, pss, digest)
    der = signer.key.sign(data, ec.ECDSA(digest))
    r, s = decode_dss_signature(der)
    half = (signer.key.curve.key_size + 7) // 8
    return r.to_bytes(half, "big") + s.to_bytes(half, "big")


def _headers(
    scheme: str,
    signing_time: datetime.datetime,
    expiry: datetime.datetime | None,
    extra: dict[str, Any] | None,
    extra_crit: tuple[str, ...],
) -> tuple[dict[str, Any], list[str]]:
    headers: dict[str, Any] = {"io.cncf.notary.signingScheme": scheme}
    crit = ["io.cncf.notary.signingScheme"]
    if scheme == "notary.x509":
        headers["io.cncf.notary.signingTime"] = signing_time
    else:
        headers["io.cncf.notary.authenticSigningTime"] = signing_time
        crit.append("io.cncf.notary.authenticSigningTime")
    if expiry is not None:
        headers["io.cncf.notary.expiry"] = expiry
        crit.append("io.cncf.notary.expiry")
    headers.update(extra or {})
    return headers, crit + list(extra_crit)


def sign(
    signer: Signer,
    target: dict[str, Any],
    *,
    envelope: str = JWS,
    scheme: str = "notary.x509",
    signing_time: datetime.datetime | None = None,
    expiry: datetime.datetime | None = None,
    extra: dict[str, Any] | None = None,
    extra_crit: tuple[str, ...] = (),
    alg: str | None = None,
    timestamper: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """A Notation envelope (JWS or COSE) over ``{"targetArtifact": target}``.

    ``timestamper`` turns the primitive signature into an RFC 3161 TimeStampToken, attached as
    the unsigned ``io.cncf.notary.timestampSignature`` header (``tests/helpers/tsa.py``).
    """
    payload = json.dumps({"targetArtifact": target}, separators=(",", ":")).encode()
    headers, crit = _headers(scheme, signing_time or _NOW, expiry, extra, extra_crit)
    ders = [c.public_bytes(serialization.Encoding.DER) for c in signer.chain]
    if envelope == JWS:
        protected = {
            "alg": alg or signer.alg,
            "crit": crit,
            "cty": PAYLOAD_TYPE,
            **{
                k: v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime.datetime) else v
                for k, v in headers.items()
            },
        }
        p64 = _b64url(json.dumps(protected).encode())
        pl64 = _b64url(payload)
        sig = _raw_signature(signer, f"{p64}.{pl64}".encode())
        header: dict[str, Any] = {
            "x5c": [base64.b64encode(d).decode() for d in ders],
            "io.cncf.notary.signingAgent": "gatekeeper-tests/1.0",
        }
        if timestamper is not None:
            header[TIMESTAMP] = base64.b64encode(timestamper(sig)).decode()
        return json.dumps(
            {"payload": pl64, "protected": p64, "header": header, "signature": _b64url(sig)}
        ).encode()
    cose_headers: dict[Any, Any] = {1: _COSE_ALG[alg or signer.alg], 2: crit, 3: PAYLOAD_TYPE}
    for k, v in headers.items():
        cose_headers[k] = cbor2.CBORTag(1, int(v.timestamp())) if hasattr(v, "timestamp") else v
    protected_raw = cbor2.dumps(cose_headers)
    to_sign = cbor2.dumps(["Signature1", protected_raw, b"", payload])
    sig = _raw_signature(signer, to_sign)
    unprotected: dict[Any, Any] = {33: ders, "io.cncf.notary.signingAgent": "gatekeeper-tests/1.0"}
    if timestamper is not None:
        unprotected[TIMESTAMP] = timestamper(sig)
    return cbor2.dumps(cbor2.CBORTag(18, [protected_raw, unprotected, payload, sig]))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signature_manifest(
    subject: dict[str, Any], envelope: bytes, envelope_type: str = JWS, signer: Signer | None = None
) -> bytes:
    thumbprints = [
        hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest()
        for c in (signer.chain if signer else ())
    ]
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE_TYPE,
            "config": {"mediaType": EMPTY, "digest": sha256(b"{}"), "size": 2},
            "layers": [
                {"mediaType": envelope_type, "digest": sha256(envelope), "size": len(envelope)}
            ],
            "subject": subject,
            "annotations": {
                "io.cncf.notary.x509chain.thumbprint#S256": json.dumps(thumbprints),
            },
        }
    ).encode()


def push_notation_signature(
    base: str,
    repo: str,
    subject: dict[str, Any],
    envelope: bytes,
    envelope_type: str = JWS,
    signer: Signer | None = None,
) -> str:
    """Attach ``envelope`` to ``subject`` and list it in the referrers tag fallback index."""
    push_blob(base, repo, b"{}")
    push_blob(base, repo, envelope)
    manifest = signature_manifest(subject, envelope, envelope_type, signer)
    digest = sha256(manifest)
    push_manifest(base, repo, digest, manifest, OCI_MANIFEST).raise_for_status()
    fallback = str(subject["digest"]).replace(":", "-", 1)
    existing = requests.get(
        f"{base}/v2/{repo}/manifests/{fallback}", headers={"Accept": OCI_INDEX}, timeout=10
    )
    listed = existing.json()["manifests"] if existing.status_code == 200 else []
    listed.append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(manifest),
            "artifactType": SIGNATURE_TYPE,
        }
    )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": listed})
    push_manifest(base, repo, fallback, index.encode(), OCI_INDEX).raise_for_status()
    return digest


def write_trust_store(store_dir: Path, kind: str, store: str, *certs: x509.Certificate) -> Path:
    """Notation's layout: ``<store_dir>/x509/<kind>/<store>/<n>.pem``."""
    directory = store_dir / "x509" / kind / store
    directory.mkdir(parents=True, exist_ok=True)
    for i, cert in enumerate(certs):
        write_pem(directory / f"cert{i}.pem", cert)
    return directory

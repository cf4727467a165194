"""A private Sigstore for tests: Fulcio-like CA, CT log and Rekor keys, all in memory.

It issues Fulcio-profile leaf certificates (empty subject, critical SAN, codeSigning EKU, OIDC
issuer extensions, an embedded SCT signed by the fake CT log) and Rekor entries with SETs,
inclusion proofs and signed checkpoints, so that both gatekeeper's legacy path and
sigstore-python's bundle verifier accept its output. Nothing here is trusted outside tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from tests.helpers import cosign_sign

OIDC_ISSUER_LEGACY = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    size = (length.bit_length() + 7) // 8
    return bytes([0x80 | size]) + length.to_bytes(size, "big")


def der_utf8(text: str) -> bytes:
    data = text.encode()
    return b"\x0c" + _der_length(len(data)) + data


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gatekeeper.test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Certificate, Any] | None
) -> x509.Certificate:
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    path_length = None if issuer_cert is None else 0
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if issuer_cert is not None:  # Fulcio's intermediate carries the code-signing EKU
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA384())


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _log_key_json(key: ec.EllipticCurvePublicKey, url: str, start: str) -> dict[str, Any]:
    der = _spki(key)
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": base64.b64encode(der).decode(),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": start},
        },
        "logId": {"keyId": base64.b64encode(hashlib.sha256(der).digest()).decode()},
    }


def trusted_root_json(
    ca_chain: list[x509.Certificate],
    rekor_keys: list[ec.EllipticCurvePublicKey],
    ct_keys: list[ec.EllipticCurvePublicKey],
    start: str = "2020-01-01T00:00:00Z",
) -> bytes:
    """A TrustedRoot v0.1 document: one CA chain (issuer first) and the given log keys."""

    return json.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [_log_key_json(key, "https://rekor.test", start) for key in rekor_keys],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "test", "commonName": "test"},
                    "uri": "https://fulcio.test",
                    "certChain": {
                        "certificates": [
                            {
                                "rawBytes": base64.b64encode(
                                    c.public_bytes(serialization.Encoding.DER)
                                ).decode()
                            }
                            for c in ca_chain
                        ]
                    },
                    "validFor": {"start": start},
                }
            ],
            "ctlogs": [_log_key_json(key, "https://ctfe.test", start) for key in ct_keys],
            "timestampAuthorities": [],
        }
    ).encode()


@dataclass
class Leaf:
    """An issued signing certificate and its private key."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class FakeSigstore:
    """Keys and CA certificates of one private Sigstore instance."""

    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rekor_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        self.root = _ca("test-root", self.root_key, None)
        self.intermediate = _ca(
            "test-intermediate", self.intermediate_key, (self.root, self.root_key)
        )

    def trusted_root(self) -> bytes:
        return trusted_root_json(
            [self.intermediate, self.root],
            [self.rekor_key.public_key()],
            [self.ct_key.public_key()],
        )

    def issue(
        self,
        *,
        san: x509.GeneralName | None = None,
        issuer: str | None = "https://issuer.test",
        legacy_issuer: str | None = None,
        not_before: datetime = SIGNED_AT - timedelta(minutes=1),
        with_sct: bool = True,
        code_signing: bool = True,
        claims: dict[str, str] | None = None,
    ) -> Leaf:
        """A Fulcio-profile certificate for ``san`` (default: an email SAN).

        ``claims`` maps Fulcio extension OIDs (dotted) to values: a v2 OID (``….1.8`` and
        above) gets a DER UTF8String, a legacy one (``….1.1`` to ``.1.6``) raw UTF-8 bytes.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        san = san or x509.RFC822Name("dev@example.test")
        eku = ExtendedKeyUsageOID.CODE_SIGNING if code_signing else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(minutes=10))
            .add_extension(_leaf_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.intermediate_key.public_key()
                ),
                False,
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
        )
        if legacy_issuer is not None:
            ext = x509.UnrecognizedExtension(OIDC_ISSUER_LEGACY, legacy_issuer.encode())
            builder = builder.add_extension(ext, critical=False)
        if issuer is not None:
            ext = x509.UnrecognizedExtension(OIDC_ISSUER_V2, der_utf8(issuer))
            builder = builder.add_extension(ext, critical=False)
        for dotted, text in (claims or {}).items():
            legacy = int(dotted.rsplit(".", 1)[1]) < 8
            raw = text.encode() if legacy else der_utf8(text)
            ext = x509.UnrecognizedExtension(x509.ObjectIdentifier(dotted), raw)
            builder = builder.add_extension(ext, critical=False)
        if with_sct:
            builder = self._with_sct(builder, not_before)
        return Leaf(key, builder.sign(self.intermediate_key, hashes.SHA384()))

    def _with_sct(
        self, builder: x509.CertificateBuilder, when: datetime
    ) -> x509.CertificateBuilder:
        # The SCT signs the certificate's TBS without the SCT extension (RFC 6962 §3.2); ECDSA
        # signatures do not enter the TBS, so signing the same builder twice yields it.
        precert_tbs = builder.sign(self.intermediate_key, hashes.SHA384()).tbs_certificate_bytes
        millis = (when - EPOCH) // timedelta(milliseconds=1)
        issuer_hash = hashlib.sha256(_spki(self.intermediate_key.public_key())).digest()
        signed = (
            struct.pack(">BBQH", 0, 0, millis, 1)
            + issuer_hash
            + len(precert_tbs).to_bytes(3, "big")
            + precert_tbs
            + b"\x00\x00"
        )
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        log_id = hashlib.sha256(_spki(self.ct_key.public_key())).digest()
        sct = (
            b"\x00"
            + log_id
            + struct.pack(">QH", millis, 0)
            + b"\x04\x03"
            + struct.pack(">H", len(signature))
            + signature
        )
        sct_list = struct.pack(">HH", len(sct) + 2, len(sct)) + sct
        value = b"\x04" + _der_length(len(sct_list)) + sct_list
        return builder.add_extension(x509.UnrecognizedExtension(SCT_LIST, value), critical=False)

    def legacy_annotations(
        self, leaf: Leaf, payload: bytes, *, integrated_time: int | None = None
    ) -> dict[str, str]:
        """cosign keyless layer annotations: signature, certificate, chain, Rekor bundle."""
        signature = leaf.key.sign(payload, ec.ECDSA(hashes.SHA256()))
        body = cosign_sign.hashedrekord_body(payload, signature, leaf.pem)
        when = integrated_time or int(SIGNED_AT.timestamp())
        chain = b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.intermediate, self.root)
        )
        return {
            "dev.cosignproject.cosign/signature": base64.b64encode(signature).decode(),
            "dev.sigstore.cosign/certificate": leaf.pem.decode(),
            "dev.sigstore.cosign/chain": chain.decode(),
            "dev.sigstore.cosign/bundle": cosign_sign.rekor_bundle(self.rekor_key, body, when),
        }

    def keyless_bundle(
        self, leaf: Leaf, statement: bytes, *, integrated_time: int | None = None
    ) -> bytes:
        """A Sigstore bundle v0.3 (DSSE) as cosign v3 attaches it, with a Rekor v1 dsse entry."""
        pae = cosign_sign.dsse_pae(cosign_sign.IN_TOTO, statement)
        signature = leaf.key.sign(pae, ec.ECDSA(hashes.SHA256()))
        body = cosign_sign.dsse_entry_body(statement, signature, leaf.pem)
        when = integrated_time or int(SIGNED_AT.timestamp())
        entry = cosign_sign.bundle_tlog_entry(self.rekor_key, body, when, log_index=7)
        entry["inclusionProof"] = self._inclusion_proof(body)
        return json.dumps(
            {
                "mediaType": cosign_sign.BUNDLE_V03,
                "verificationMaterial": {
                    "certificate": {
                        "rawBytes": base64.b64encode(
                            leaf.cert.public_bytes(serialization.Encoding.DER)
                        ).decode()
                    },
                    "tlogEntries": [entry],
                },
                "dsseEnvelope": {
                    "payload": base64.b64encode(statement).decode(),
                    "payloadType": cosign_sign.IN_TOTO,
                    "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
                },
            }
        ).encode()

    def _inclusion_proof(self, body: bytes) -> dict[str, Any]:
        # A one-entry tree: the root hash is the RFC 6962 leaf hash; the checkpoint is a
        # signed note whose signature line carries the first 4 bytes of the log id.
        root_hash = hashlib.sha256(b"\x00" + body).digest()
        note = f"rekor.test - 1\n1\n{base64.b64encode(root_hash).decode()}\n"
        signature = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        key_hint = bytes.fromhex(cosign_sign.log_id(self.rekor_key))[:4]
        line = f"\u2014 rekor.test {base64.b64encode(key_hint + signature).decode()}\n"
        return {
            "logIndex": "0",
            "rootHash": base64.b64encode(root_hash).decode(),
            "treeSize": "1",
            "hashes": [],
            "checkpoint": {"envelope": note + "\n" + line},
        }

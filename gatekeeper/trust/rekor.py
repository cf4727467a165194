"""Rekor inclusion promises (SETs) and the entry bodies they sign, checked offline.

A Signed Entry Timestamp is Rekor's signature over the RFC 8785 canonical JSON of
``{"body", "integratedTime", "logID", "logIndex"}`` (rekor ``pkg/api/entries.go``; cosign
``VerifySET`` and sigstore-python ``TransparencyLogEntry._encode_canonical`` rebuild the same
bytes). The SET proves that the body was logged at ``integratedTime``; the body then has to name
the very signature, payload digest and key or certificate being verified, or the SET proves
nothing about them (CVE-2022-36056).

Supported bodies: ``hashedrekord`` and ``rekord`` 0.0.1 (a signature over a payload digest),
``dsse`` 0.0.1 (a DSSE envelope's payload hash and signatures) and ``intoto`` 0.0.1 / 0.0.2
(what ``cosign attest --rekor-entry-type intoto`` logs: the hash of the envelope bytes, the
payload hash and the signer; 0.0.2 adds the signatures, base64 of the envelope's base64 ``sig``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gatekeeper.trust._decode import b64decode, json_object, member
from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.keys import load_public_key
from gatekeeper.trust.limits import TrustLimits
from gatekeeper.trust.trusted_root import TrustedRoot

_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_LOG_NUMBER = 2**53 - 1  # RFC 8785 numbers are IEEE doubles: larger ones are not exact


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A Rekor entry with its inclusion promise."""

    body: bytes  # the canonicalized entry body
    integrated_time: int
    log_index: int
    log_id: str  # hex
    signed_entry_timestamp: bytes

    @property
    def integrated_at(self) -> datetime:
        return datetime.fromtimestamp(self.integrated_time, UTC)

    def canonical_payload(self) -> bytes:
        """The bytes the SET signs: RFC 8785 JSON (sorted keys, no whitespace)."""
        payload = {
            "body": base64.b64encode(self.body).decode(),
            "integratedTime": self.integrated_time,
            "logID": self.log_id,
            "logIndex": self.log_index,
        }
        # Strings here are base64 and hex, numbers are safe integers: for such values
        # sort_keys + compact separators is exactly RFC 8785.
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class EntryClaims:
    """What a log entry body says was signed, by what, with which signatures."""

    kind: str
    payload_sha256: str  # hex
    signatures: tuple[bytes, ...]
    verifiers: tuple[bytes, ...]  # DER of the public key or certificate per signature
    envelope_sha256: str | None = None  # intoto: hex sha256 of the DSSE envelope bytes


def log_number(value: Any, what: str) -> int:
    # cosign's bundle has JSON numbers; protobuf JSON (Sigstore bundles) has int64 strings.
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_LOG_NUMBER:
        raise SignatureRejected(f"{what} is not a valid log number")
    return value


def _log_id(value: str, what: str) -> str:
    if not _HEX64.fullmatch(value):
        raise SignatureRejected(f"{what} is not a sha256 hex log id")
    return value


def parse_cosign_bundle(annotation: str, limits: TrustLimits) -> LogEntry:
    """Parse cosign's ``dev.sigstore.cosign/bundle`` annotation (SET + Rekor payload)."""
    doc = json_object(annotation, "Rekor bundle", limits.max_annotation_bytes)
    payload = member(doc, "Payload", dict, "Rekor bundle")
    where = "Rekor bundle Payload"
    return LogEntry(
        body=b64decode(payload.get("body"), f"{where} body", limits.max_annotation_bytes),
        integrated_time=log_number(payload.get("integratedTime"), f"{where} integratedTime"),
        log_index=log_number(payload.get("logIndex"), f"{where} logIndex"),
        log_id=_log_id(member(payload, "logID", str, where), f"{where} logID"),
        signed_entry_timestamp=b64decode(
            doc.get("SignedEntryTimestamp"), "SignedEntryTimestamp", 1024
        ),
    )


def parse_bundle_entry(raw: Any, limits: TrustLimits) -> LogEntry | None:
    """Parse a Sigstore bundle ``tlogEntries[]`` item; None when it has no SET."""
    where = "bundle tlog entry"
    promise = raw.get("inclusionPromise") if isinstance(raw, dict) else None
    if promise is None:
        return None
    log_id = b64decode(member(raw, "logId", dict, where).get("keyId"), f"{where} logId", 64)
    return LogEntry(
        body=b64decode(raw.get("canonicalizedBody"), f"{where} body", limits.max_bundle_bytes),
        integrated_time=log_number(raw.get("integratedTime"), f"{where} integratedTime"),
        log_index=log_number(raw.get("logIndex"), f"{where} logIndex"),
        log_id=_log_id(log_id.hex(), f"{where} logId"),
        signed_entry_timestamp=b64decode(
            member(promise, "signedEntryTimestamp", str, where), "signedEntryTimestamp", 1024
        ),
    )


def verify_set(entry: LogEntry, root: TrustedRoot) -> None:
    """Check the SET with the Rekor key ``entry.log_id`` names, valid at integration time."""
    log_key = root.rekor_key(entry.log_id, entry.integrated_at)
    if not log_key.key.verify(entry.signed_entry_timestamp, entry.canonical_payload()):
        raise SignatureRejected(
            f"Rekor SET does not verify with log key {entry.log_id[:16]} (entry {entry.log_index})"
        )


def parse_entry_body(entry: LogEntry, limits: TrustLimits) -> EntryClaims:
    """Read kind, payload hash, signatures and verifiers from the entry body."""
    return parse_body(entry.body, limits)


def parse_body(body: bytes, limits: TrustLimits) -> EntryClaims:
    """:func:`parse_entry_body` for a body proven some other way (an inclusion proof)."""
    doc = json_object(body, "Rekor entry body", limits.max_bundle_bytes)
    kind = member(doc, "kind", str, "Rekor entry body")
    version = member(doc, "apiVersion", str, "Rekor entry body")
    if kind not in ("hashedrekord", "rekord", "dsse", "intoto"):
        raise SignatureRejected(f"Rekor entry kind {kind[:40]!r} is not supported")
    if kind == "intoto" and version not in ("0.0.1", "0.0.2"):
        raise SignatureRejected("Rekor intoto entries other than 0.0.1 and 0.0.2 are not supported")
    if kind != "intoto" and version != "0.0.1":
        raise SignatureRejected(f"Rekor {kind} entries other than 0.0.1 are not supported")
    spec = member(doc, "spec", dict, "Rekor entry body")
    if kind == "dsse":
        return _dsse_claims(spec, limits)
    if kind == "intoto":
        return _intoto_claims(version, spec, limits)
    return _signature_claims(kind, spec, limits)


def _sha256_value(raw: Any, what: str) -> str:
    if not isinstance(raw, dict) or raw.get("algorithm") != "sha256":
        raise SignatureRejected(f"{what} is not a sha256 hash")
    value = raw.get("value")
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise SignatureRejected(f"{what} is not a sha256 hex value")
    return value


def _signature_claims(kind: str, spec: dict[str, Any], limits: TrustLimits) -> EntryClaims:
    where = f"Rekor {kind} entry"
    data = member(spec, "data", dict, where)
    signature = member(spec, "signature", dict, where)
    public_key = member(signature, "publicKey", dict, where)
    verifier = b64decode(public_key.get("content"), f"{where} public key", 16 * 1024)
    return EntryClaims(
        kind=kind,
        payload_sha256=_sha256_value(data.get("hash"), f"{where} data hash"),
        signatures=(b64decode(signature.get("content"), f"{where} signature", 16 * 1024),),
        verifiers=(_pem_to_der(verifier, f"{where} public key"),),
    )


def _dsse_claims(spec: dict[str, Any], limits: TrustLimits) -> EntryClaims:
    where = "Rekor dsse entry"
    raw_signatures = member(spec, "signatures", list, where)
    if not raw_signatures or len(raw_signatures) > limits.max_signatures:
        raise SignatureRejected(f"{where} has no or too many signatures")
    signatures, verifiers = [], []
    for item in raw_signatures:
        signatures.append(b64decode(member(item, "signature", str, where), where, 16 * 1024))
        pem = b64decode(member(item, "verifier", str, where), f"{where} verifier", 16 * 1024)
        verifiers.append(_pem_to_der(pem, f"{where} verifier"))
    return EntryClaims(
        kind="dsse",
        payload_sha256=_sha256_value(spec.get("payloadHash"), f"{where} payload hash"),
        signatures=tuple(signatures),
        verifiers=tuple(verifiers),
    )


def _intoto_claims(version: str, spec: dict[str, Any], limits: TrustLimits) -> EntryClaims:
    # rekor pkg/types/intoto/v0.0.{1,2} Canonicalize: 0.0.1 keeps one publicKey beside the
    # content; 0.0.2 keeps the envelope's signatures, each with its publicKey.
    where = f"Rekor intoto {version} entry"
    content = member(spec, "content", dict, where)
    signatures, verifiers = [], []
    if version == "0.0.1":
        pem = b64decode(member(spec, "publicKey", str, where), f"{where} publicKey", 16 * 1024)
        verifiers.append(_pem_to_der(pem, f"{where} publicKey"))
    else:
        envelope = member(content, "envelope", dict, where)
        raw_signatures = member(envelope, "signatures", list, where)
        if not raw_signatures or len(raw_signatures) > limits.max_signatures:
            raise SignatureRejected(f"{where} has no or too many signatures")
        for item in raw_signatures:
            # Rekor stores the envelope's base64 ``sig`` text as base64 again (strfmt.Base64).
            text = b64decode(member(item, "sig", str, where), f"{where} sig", 16 * 1024)
            signatures.append(b64decode(text.decode("ascii", "replace"), f"{where} sig", 8192))
            pem = b64decode(member(item, "publicKey", str, where), f"{where} key", 16 * 1024)
            verifiers.append(_pem_to_der(pem, f"{where} publicKey"))
    return EntryClaims(
        kind="intoto",
        payload_sha256=_sha256_value(content.get("payloadHash"), f"{where} payload hash"),
        signatures=tuple(signatures),
        verifiers=tuple(verifiers),
        envelope_sha256=_sha256_value(content.get("hash"), f"{where} envelope hash"),
    )


def _pem_to_der(pem: bytes, what: str) -> bytes:
    """DER of a PEM certificate or SubjectPublicKeyInfo, as a comparable identity."""
    try:
        if b"CERTIFICATE" in pem:
            return certificate_der(x509.load_pem_x509_certificate(pem))
        return load_public_key(pem, what).der
    except (ValueError, TrustError) as exc:
        raise SignatureRejected(f"{what} is not a PEM certificate or supported key") from exc


def check_entry_matches(
    claims: EntryClaims, *, payload: bytes, signature: bytes, verifier: bytes
) -> None:
    """The body must name this payload, this signature and this verifier (DER)."""
    if claims.payload_sha256 != hashlib.sha256(payload).hexdigest():
        raise SignatureRejected("Rekor entry is for a different payload")
    if (signature, verifier) not in zip(claims.signatures, claims.verifiers, strict=True):
        raise SignatureRejected("Rekor entry names a different signature or signer")


def check_dsse_entry(
    claims: EntryClaims,
    *,
    envelope: bytes | None,
    payload: bytes,
    signature: bytes,
    verifier: bytes,
) -> None:
    """The entry must log this DSSE envelope: a ``dsse`` or ``intoto`` body naming it.

    ``envelope`` is the envelope JSON exactly as stored (a ``.att`` layer blob), which an
    ``intoto`` body hashes whole; None where those bytes do not exist (a bundle holds the
    envelope re-encoded), and then a ``dsse`` or an ``intoto`` 0.0.2 body (which logs the
    signatures themselves) can be matched, an ``intoto`` 0.0.1 one cannot.
    """
    if claims.kind == "dsse":
        check_entry_matches(claims, payload=payload, signature=signature, verifier=verifier)
        return
    if claims.kind != "intoto":
        raise SignatureRejected(f"Rekor {claims.kind} entry does not describe a DSSE envelope")
    if envelope is None and not claims.signatures:
        # 0.0.1 binds the signatures only through the envelope hash.
        raise SignatureRejected("Rekor intoto entry hashes envelope bytes this bundle lacks")
    if envelope is not None and claims.envelope_sha256 != hashlib.sha256(envelope).hexdigest():
        raise SignatureRejected("Rekor entry is for a different envelope")
    if claims.payload_sha256 != hashlib.sha256(payload).hexdigest():
        raise SignatureRejected("Rekor entry is for a different payload")
    if claims.signatures:  # 0.0.2
        if (signature, verifier) not in zip(claims.signatures, claims.verifiers, strict=True):
            raise SignatureRejected("Rekor entry names a different signature or signer")
    elif verifier not in claims.verifiers:  # 0.0.1: the envelope hash binds the signatures
        raise SignatureRejected("Rekor entry names a different signer")


def certificate_der(cert: x509.Certificate) -> bytes:
    """A certificate's DER: what :func:`check_entry_matches` compares for a certificate."""
    return cert.public_bytes(serialization.Encoding.DER)

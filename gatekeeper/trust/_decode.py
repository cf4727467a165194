"""Bounded, strict decoding of untrusted base64, JSON and PEM into values or refusals.

Every helper raises :class:`SignatureRejected` with a reason naming ``what`` was malformed;
none lets ``ValueError``, ``RecursionError`` or ``binascii.Error`` escape.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography import x509

from gatekeeper.oci.strict_json import no_duplicate_keys
from gatekeeper.trust.errors import SignatureRejected


def b64decode(text: Any, what: str, max_bytes: int) -> bytes:
    """Decode standard (padded) base64 of at most ``max_bytes`` decoded bytes."""
    if not isinstance(text, str):
        raise SignatureRejected(f"{what} is not a base64 string")
    # Refuse before decoding: base64 is 4 characters per 3 bytes.
    if len(text) > (max_bytes + 2) // 3 * 4:
        raise SignatureRejected(f"{what} is larger than {max_bytes} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureRejected(f"{what} is not valid base64") from exc


def json_object(data: bytes | str, what: str, max_bytes: int) -> dict[str, Any]:
    """Parse a JSON object of at most ``max_bytes``, refusing duplicate keys."""
    if len(data) > max_bytes:
        raise SignatureRejected(f"{what} is larger than {max_bytes} bytes")
    try:
        doc = json.loads(data, object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise SignatureRejected(f"{what} is not valid JSON: {str(exc)[:80]}") from exc
    if not isinstance(doc, dict):
        raise SignatureRejected(f"{what} is not a JSON object")
    return doc


def member(doc: Any, key: str, kind: type, what: str) -> Any:
    """``doc[key]`` when ``doc`` is an object and the value has type ``kind``."""
    value = doc.get(key) if isinstance(doc, dict) else None
    # bool is an int in Python; JSON true is never a number here.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SignatureRejected(f"{what}: {key!r} is missing or not a {kind.__name__}")
    return value


def pem_certificates(
    text: Any, what: str, max_bytes: int, max_count: int
) -> list[x509.Certificate]:
    """Parse one or more PEM certificates (at most ``max_count``)."""
    if not isinstance(text, str) or not text.strip():
        raise SignatureRejected(f"{what} is not a PEM string")
    if len(text) > max_bytes:
        raise SignatureRejected(f"{what} is larger than {max_bytes} bytes")
    if text.count("-----BEGIN") > max_count:
        raise SignatureRejected(f"{what} holds more than {max_count} certificates")
    try:
        certs = x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise SignatureRejected(f"{what} is not a valid PEM certificate") from exc
    return certs


def der_utf8_string(data: bytes, what: str) -> str:
    """Decode a DER UTF8String (tag 0x0C), as Fulcio encodes its v2 extensions."""
    if len(data) < 2 or data[0] != 0x0C:
        raise SignatureRejected(f"{what} is not a DER UTF8String")
    length, offset = data[1], 2
    if length & 0x80:  # long form: the low bits count the length octets that follow
        count = length & 0x7F
        if count == 0 or count > 3 or len(data) < 2 + count:
            raise SignatureRejected(f"{what} has an invalid DER length")
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if len(data) != offset + length:
        raise SignatureRejected(f"{what} has an invalid DER length")
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureRejected(f"{what} is not valid UTF-8") from exc

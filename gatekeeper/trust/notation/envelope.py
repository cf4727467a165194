"""Parse Notation signature envelopes (JWS JSON flattened, COSE_Sign1_Tagged) into one shape.

Nothing here is trusted yet (DESIGN.md, style rule 14): :class:`UntrustedEnvelope` holds the
bytes the signature covers, the signature, the protected headers decoded, the certificate
chain and the timestamp token as delivered. :mod:`gatekeeper.trust.notation.verify` checks
the signature first and reads the payload only afterwards.

- JWS (``signature-envelope-jws.md``): ``{"payload", "protected", "header", "signature"}`` and
  nothing else; base64url without padding; signing input ``protected "." payload``; times are
  RFC 3339 strings; ``x5c`` holds base64 DER certificates.
- COSE (``signature-envelope-cose.md``): CBOR tag 18 around ``[protected bstr, unprotected
  map, payload bstr, signature bstr]``; signing input is the CBOR ``Sig_structure``
  ``["Signature1", protected, h'', payload]`` (RFC 9052 §4.4); times are tag 1 epoch values;
  ``x5chain`` (label 33) holds DER certificates. CBOR is decoded with ``cbor2`` (a maintained,
  typed library); the Sig_structure is re-encoded with it, which is canonical for four byte
  and text strings. pycose was not used: it verifies with its own key objects and would still
  leave every Notary Project check to us.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2

from gatekeeper.oci.strict_json import no_duplicate_keys
from gatekeeper.trust.errors import SignatureRejected

JWS_MEDIA_TYPE = "application/jose+json"
COSE_MEDIA_TYPE = "application/cose"
ENVELOPE_TYPES = frozenset({JWS_MEDIA_TYPE, COSE_MEDIA_TYPE})

SIGNING_SCHEME = "io.cncf.notary.signingScheme"
SIGNING_TIME = "io.cncf.notary.signingTime"
AUTHENTIC_SIGNING_TIME = "io.cncf.notary.authenticSigningTime"
EXPIRY = "io.cncf.notary.expiry"
TIMESTAMP_SIGNATURE = "io.cncf.notary.timestampSignature"
PLUGIN = "io.cncf.notary.verificationPlugin"
PLUGIN_MIN_VERSION = "io.cncf.notary.verificationPluginMinVersion"

_JWS_KEYS = frozenset({"payload", "protected", "header", "signature"})
_JWS_ALGS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_COSE_ALGS = {-37: "PS256", -38: "PS384", -39: "PS512", -7: "ES256", -35: "ES384", -36: "ES512"}
_COSE_TAG = 18
_COSE_ALG, _COSE_CRIT, _COSE_CTY, _COSE_X5CHAIN = 1, 2, 3, 33


@dataclass(frozen=True, slots=True)
class UntrustedEnvelope:
    """One envelope as delivered; only ``signed_bytes`` + ``signature`` are checked first."""

    format: str  # "jws" | "cose"
    alg: str  # JWS name (PS256 … ES512); COSE labels are mapped to these
    signed_bytes: bytes  # what the signature covers
    signature: bytes  # RSASSA-PSS bytes, or ECDSA r||s
    payload: bytes  # the Notary payload JSON (read only after the signature verified)
    content_type: Any
    crit: tuple[str, ...]
    headers: dict[str, Any]  # protected headers with string names (alg/crit/cty removed)
    certificates: tuple[bytes, ...]  # DER, leaf first
    timestamp: bytes | None  # RFC 3161 TimeStampToken (unsigned attribute)


def parse_envelope(media_type: str, data: bytes, max_chain: int) -> UntrustedEnvelope:
    """Parse ``data`` as the envelope ``media_type`` names; SignatureRejected when malformed."""
    if media_type == JWS_MEDIA_TYPE:
        return parse_jws(data, max_chain)
    if media_type == COSE_MEDIA_TYPE:
        return parse_cose(data, max_chain)
    raise SignatureRejected(f"unsupported signature envelope type {media_type!r}")


def parse_jws(data: bytes, max_chain: int) -> UntrustedEnvelope:
    try:
        doc = json.loads(data, object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise SignatureRejected(f"JWS envelope is not valid JSON: {str(exc)[:80]}") from exc
    if not isinstance(doc, dict) or set(doc) != _JWS_KEYS:
        raise SignatureRejected(
            "JWS envelope must be flattened JSON with exactly payload, protected, header"
            " and signature"
        )
    protected_text = _text(doc["protected"], "protected")
    payload_text = _text(doc["payload"], "payload")
    protected_raw = _b64url(protected_text, "protected")
    try:
        protected = json.loads(protected_raw, object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise SignatureRejected("JWS protected header is not valid JSON") from exc
    if not isinstance(protected, dict):
        raise SignatureRejected("JWS protected header is not a JSON object")
    header = doc["header"]
    if not isinstance(header, dict):
        raise SignatureRejected("JWS unprotected header is not a JSON object")
    if "x5c" in protected:
        raise SignatureRejected("JWS x5c must be an unprotected header")
    alg = protected.pop("alg", None)
    if alg not in _JWS_ALGS:
        raise SignatureRejected(f"JWS alg {alg!r} is not one the Notary Project allows")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or len(x5c) > max_chain:
        raise SignatureRejected(f"JWS x5c must list 1 to {max_chain} certificates")
    certificates = tuple(_b64std(cert, "x5c certificate") for cert in x5c)
    timestamp = header.get(TIMESTAMP_SIGNATURE)
    return UntrustedEnvelope(
        format="jws",
        alg=alg,
        signed_bytes=f"{protected_text}.{payload_text}".encode("ascii"),
        signature=_b64url(_text(doc["signature"], "signature"), "signature"),
        payload=_b64url(payload_text, "payload"),
        content_type=protected.pop("cty", None),
        crit=_crit(protected.pop("crit", None)),
        headers={key: _jws_time(key, value) for key, value in protected.items()},
        certificates=certificates,
        timestamp=None if timestamp is None else _b64std(timestamp, "timestamp signature"),
    )


def parse_cose(data: bytes, max_chain: int) -> UntrustedEnvelope:
    try:
        tagged = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, RecursionError, OverflowError) as exc:
        raise SignatureRejected(f"COSE envelope is not valid CBOR: {str(exc)[:80]}") from exc
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != _COSE_TAG:
        raise SignatureRejected("COSE envelope is not a COSE_Sign1_Tagged (tag 18) object")
    body = tagged.value
    # cbor2 decodes arrays as lists (tuples inside tags) and maps as dicts or frozendicts.
    if not isinstance(body, list | tuple) or len(body) != 4:
        raise SignatureRejected("COSE_Sign1 must be an array of four items")
    protected_raw, unprotected, payload, signature = body
    if not all(isinstance(item, bytes) for item in (protected_raw, payload, signature)):
        raise SignatureRejected("COSE_Sign1 protected header, payload and signature must be bytes")
    if not isinstance(unprotected, Mapping):
        raise SignatureRejected("COSE_Sign1 unprotected header is not a map")
    try:
        protected = cbor2.loads(protected_raw)
    except (cbor2.CBORDecodeError, ValueError, RecursionError, OverflowError) as exc:
        raise SignatureRejected("COSE protected header is not valid CBOR") from exc
    if not isinstance(protected, Mapping):
        raise SignatureRejected("COSE protected header is not a map")
    protected = dict(protected)
    alg = _COSE_ALGS.get(protected.pop(_COSE_ALG, None))
    if alg is None:
        raise SignatureRejected("COSE alg is not one the Notary Project allows")
    chain = protected.pop(_COSE_X5CHAIN, None) or unprotected.get(_COSE_X5CHAIN)
    if isinstance(chain, bytes):
        chain = [chain]  # RFC 9360: one certificate may be given as a bare bstr
    if not isinstance(chain, list | tuple) or not chain or len(chain) > max_chain:
        raise SignatureRejected(f"COSE x5chain must list 1 to {max_chain} certificates")
    if not all(isinstance(cert, bytes) for cert in chain):
        raise SignatureRejected("COSE x5chain entries must be byte strings")
    content_type = protected.pop(_COSE_CTY, None)
    crit = _crit(protected.pop(_COSE_CRIT, None))
    headers: dict[str, Any] = {}
    for key, value in protected.items():
        if not isinstance(key, str):
            raise SignatureRejected(f"COSE protected header has an unsupported label {key!r}")
        headers[key] = _cose_time(key, value)
    timestamp = unprotected.get(TIMESTAMP_SIGNATURE)
    if timestamp is not None and not isinstance(timestamp, bytes):
        raise SignatureRejected("COSE timestamp signature is not a byte string")
    signed = cbor2.dumps(["Signature1", protected_raw, b"", payload])
    return UntrustedEnvelope(
        format="cose",
        alg=alg,
        signed_bytes=signed,
        signature=signature,
        payload=payload,
        content_type=content_type,
        crit=crit,
        headers=headers,
        certificates=tuple(chain),
        timestamp=timestamp,
    )


_TIME_HEADERS = (SIGNING_TIME, AUTHENTIC_SIGNING_TIME, EXPIRY)


def _jws_time(key: str, value: Any) -> Any:
    if key not in _TIME_HEADERS:
        return value
    if not isinstance(value, str):
        raise SignatureRejected(f"JWS header {key} is not an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise SignatureRejected(f"JWS header {key} is not an RFC 3339 time") from exc
    if parsed.tzinfo is None:
        raise SignatureRejected(f"JWS header {key} has no time zone")
    return parsed.astimezone(UTC)


def _cose_time(key: str, value: Any) -> Any:
    if key not in _TIME_HEADERS:
        return value
    # cbor2 decodes tag 1 (epoch date/time) into an aware datetime.
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise SignatureRejected(f"COSE header {key} is not a tag 1 date/time")
    return value.astimezone(UTC)


def _crit(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(i, str | int) for i in value):
        raise SignatureRejected("crit header is not a list of header names")
    return tuple(str(item) for item in value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.isascii():
        raise SignatureRejected(f"JWS {what} is not a base64url string")
    return value


def _b64url(text: str, what: str) -> bytes:
    if "=" in text:
        raise SignatureRejected(f"JWS {what} carries base64 padding (RFC 7515 forbids it)")
    standard = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureRejected(f"JWS {what} is not valid base64url") from exc


def _b64std(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise SignatureRejected(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureRejected(f"{what} is not valid base64") from exc

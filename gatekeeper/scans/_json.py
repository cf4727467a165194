"""Strict, bounded reading of untrusted JSON documents (reports, scanner answers, cache).

Each helper raises the error class it is given, with a message naming the field; none lets
``ValueError``, ``RecursionError`` or ``TypeError`` escape.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gatekeeper.errors import DigestInvalid
from gatekeeper.oci.grammar import check_digest
from gatekeeper.oci.strict_json import no_duplicate_keys
from gatekeeper.scans.errors import ScanError


def load_object(data: bytes, what: str, max_bytes: int, error: type[ScanError]) -> dict[str, Any]:
    """Parse a JSON object of at most ``max_bytes`` bytes, refusing duplicate keys."""
    if len(data) > max_bytes:
        raise error(f"{what} is {len(data)} bytes, more than the limit of {max_bytes}")
    try:
        doc = json.loads(data, object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise error(f"{what} is not valid JSON: {str(exc)[:120]}") from exc
    if not isinstance(doc, dict):
        raise error(f"{what} is not a JSON object")
    return doc


def text(
    doc: dict[str, Any],
    key: str,
    where: str,
    error: type[ScanError],
    *,
    required: bool = True,
    max_chars: int = 4096,
) -> str | None:
    """``doc[key]`` as a string; None when absent (or null) and not ``required``."""
    value = doc.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        state = "missing" if value is None else f"a {type(value).__name__}, not a string"
        raise error(f"{where}: {key} is {state}")
    if len(value) > max_chars:
        raise error(f"{where}: {key} is longer than {max_chars} characters")
    return value


def array(
    doc: dict[str, Any], key: str, where: str, error: type[ScanError], max_items: int
) -> list[Any]:
    """``doc[key]`` as a list (absent or null: empty) of at most ``max_items`` items."""
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise error(f"{where}: {key} is a {type(value).__name__}, not an array")
    if len(value) > max_items:
        raise error(f"{where}: {key} has more than {max_items} entries")
    return value


def timestamp(value: str, where: str, error: type[ScanError]) -> datetime:
    """An RFC 3339 timestamp (Go writes nanoseconds; Python keeps microseconds)."""
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise error(f"{where} is not an RFC 3339 timestamp: {value[:40]!r}") from exc


def digest(value: str, where: str, error: type[ScanError]) -> str:
    """A well-formed ``sha256:…``/``sha512:…`` digest, or ``error``."""
    try:
        return check_digest(value)
    except DigestInvalid as exc:
        raise error(f"{where}: {exc.message}") from exc

"""JSON for documents an attacker may have written: duplicate keys are refused.

Parsers disagree on which duplicate wins (Go: last, some: first); a signed document or a
report that could be read two ways is refused rather than guessed at.
"""

from __future__ import annotations

from typing import Any


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.loads``: raise ValueError on a repeated key."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:40]!r}")
        result[key] = value
    return result

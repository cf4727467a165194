"""Durations, sizes and dates as policy files write them, parsed and formatted back.

Each parser raises ValueError with a message meant for the policy author.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_DURATION = re.compile(r"0*[1-9][0-9]*[dhms]")
_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}

# Decimal (SI) and binary (IEC) units; written exactly like this, case included, because
# "mb" and "Mb" (megabit) are ambiguous.
_SIZE = re.compile(r"(0*[1-9][0-9]*)(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)")
_SIZE_UNITS = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_duration(value: object) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"`` or a positive integer of seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"duration must be at least 1 second, got {value}")
        return timedelta(seconds=value)
    if isinstance(value, str) and _DURATION.fullmatch(value):
        return timedelta(seconds=int(value[:-1]) * _DURATION_UNITS[value[-1]])
    raise ValueError(
        f"invalid duration {value!r}: write e.g. '7d', '12h', '30m', '45s' or whole seconds"
    )


def parse_size(value: object) -> int:
    """``"500MiB"``, ``"1GB"`` or a positive integer of bytes, as a number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"size must be at least 1 byte, got {value}")
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"invalid size {value!r}: write e.g. '500MiB', '1GB' or a whole number of bytes"
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def parse_date(value: object) -> date:
    """A calendar date written ``YYYY-MM-DD``."""
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass  # a well-formed but impossible date such as 2025-02-30
    raise ValueError(f"invalid date {value!r}: write YYYY-MM-DD")


def format_duration(delta: timedelta) -> str:
    """``timedelta(days=1, hours=12)`` → ``"1d12h"``; the inverse of parse_duration."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in _DURATION_UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_size(size: int) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1 (``"1.5 MiB"``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"

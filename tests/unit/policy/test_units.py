"""Durations, sizes and dates as policy files write them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gatekeeper.policy.units import (
    format_duration,
    format_size,
    parse_date,
    parse_duration,
    parse_size,
)

DURATIONS = [
    ("7d", timedelta(days=7)),
    ("12h", timedelta(hours=12)),
    ("30m", timedelta(minutes=30)),
    ("45s", timedelta(seconds=45)),
    ("090d", timedelta(days=90)),
    (3600, timedelta(hours=1)),
]


@pytest.mark.parametrize(("text", "expected"), DURATIONS, ids=[str(t) for t, _ in DURATIONS])
def test_parse_duration(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("7", "invalid duration '7'"),
        ("7 d", "invalid duration '7 d'"),
        ("1d12h", "invalid duration '1d12h'"),
        ("0d", "invalid duration '0d'"),
        ("-1s", "invalid duration '-1s'"),
        ("7w", "invalid duration '7w'"),
        (0, "duration must be at least 1 second, got 0"),
        (True, "invalid duration True"),
        (1.5, "invalid duration 1.5"),
    ],
    ids=["no-unit", "space", "two-units", "zero", "negative", "weeks", "zero-int", "bool", "float"],
)
def test_invalid_duration(value: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        parse_duration(value)


SIZES = [
    ("500MiB", 500 * 1024**2),
    ("1GB", 1000**3),
    ("1kB", 1000),
    ("1KB", 1000),
    ("2KiB", 2048),
    ("3TiB", 3 * 1024**4),
    ("10B", 10),
    (4096, 4096),
]


@pytest.mark.parametrize(("text", "expected"), SIZES, ids=[str(t) for t, _ in SIZES])
def test_parse_size(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "value", ["500M", "500 MiB", "1.5GB", "500mib", "0MB", "", 0, -1, False], ids=repr
)
def test_invalid_size(value: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(value)


def test_parse_date() -> None:
    assert parse_date("2025-06-30") == date(2025, 6, 30)


@pytest.mark.parametrize(
    "value", ["2025-02-30", "2025-1-5", "20250105", "2025-W01-1", "", 20250105], ids=repr
)
def test_invalid_date(value: object) -> None:
    with pytest.raises(ValueError, match="write YYYY-MM-DD"):
        parse_date(value)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=7), "7d"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(0), "0s"),
    ],
    ids=["days", "mixed", "seconds", "zero"],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(512, "512 B"), (1536, "1.5 KiB"), (500 * 1024**2, "500.0 MiB"), (3 * 1024**4, "3.0 TiB")],
    ids=["bytes", "kib", "mib", "tib"],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text

"""Typed readers for policy document fields: each checks one value and reports problems.

A reader returns the checked value, or None after reporting why the value is unusable;
callers keep going so that one pass reports every problem in a file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from gatekeeper.policy.files import FileStamp
from gatekeeper.policy.yamldoc import PathKey, Reporter

T = TypeVar("T")


@dataclass(slots=True)
class Context:
    """What compiling one file needs: where to report, and where relative paths start."""

    reporter: Reporter
    base: Path  # the policy file's directory
    # key and trusted root files named, each stamped before it was read (watched for changes)
    trust_files: dict[Path, FileStamp | None] = field(default_factory=dict)

    def problem(self, path: PathKey, message: str) -> None:
        self.reporter.add(path, message)


def kind_of(value: object) -> str:
    """How a problem message names the type of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def mapping(
    ctx: Context,
    path: PathKey,
    value: object,
    allowed: Sequence[str],
    required: Sequence[str] = (),
) -> dict[str, object] | None:
    """A mapping whose keys are all in ``allowed`` and include every ``required`` key."""
    if not isinstance(value, dict):
        ctx.problem(path, f"expected a mapping, got {kind_of(value)}")
        return None
    for key in value:
        if key not in allowed:
            ctx.problem((*path, key), _unknown_key(key, allowed))
    for key in required:
        if key not in value:
            ctx.problem(path, f"missing required key '{key}'")
    return {key: item for key, item in value.items() if key in allowed}


def _unknown_key(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key '{key}' (did you mean '{close[0]}'?)"
    return f"unknown key '{key}' (allowed: {', '.join(allowed)})"


def string(ctx: Context, path: PathKey, value: object) -> str | None:
    """A non-empty string."""
    if not isinstance(value, str):
        ctx.problem(path, f"expected a string, got {kind_of(value)}")
        return None
    if not value.strip():
        ctx.problem(path, "must not be empty")
        return None
    return value


def boolean(ctx: Context, path: PathKey, value: object) -> bool | None:
    """``true`` or ``false`` (YAML booleans only, never strings)."""
    if not isinstance(value, bool):
        ctx.problem(path, f"expected a boolean, got {kind_of(value)}")
        return None
    return value


def integer(ctx: Context, path: PathKey, value: object, minimum: int) -> int | None:
    """An integer of at least ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        ctx.problem(path, f"expected an integer, got {kind_of(value)}")
        return None
    if value < minimum:
        ctx.problem(path, f"must be at least {minimum}, got {value}")
        return None
    return value


def choice(ctx: Context, path: PathKey, value: object, choices: Sequence[str]) -> str | None:
    """One of ``choices``, exactly as written there."""
    text = string(ctx, path, value)
    if text is not None and text not in choices:
        ctx.problem(path, f"must be one of {', '.join(choices)}, got {text!r}")
        return None
    return text


def items(
    ctx: Context, path: PathKey, value: object, *, allow_empty: bool = False
) -> list[tuple[PathKey, object]]:
    """The items of a list with their paths; an empty list is a problem unless allowed."""
    if not isinstance(value, list):
        ctx.problem(path, f"expected a list, got {kind_of(value)}")
        return []
    if not value and not allow_empty:
        ctx.problem(path, "must not be an empty list")
    return [((*path, index), item) for index, item in enumerate(value)]


def each(
    ctx: Context,
    path: PathKey,
    value: object,
    convert: Callable[[Context, PathKey, object], T | None],
    *,
    allow_empty: bool = False,
) -> tuple[T, ...]:
    """Convert every item of a list with ``convert``, dropping (reported) bad items."""
    out: list[T] = []
    for item_path, item in items(ctx, path, value, allow_empty=allow_empty):
        converted = convert(ctx, item_path, item)
        if converted is not None:
            out.append(converted)
    return tuple(out)


def parsed(ctx: Context, path: PathKey, value: object, parse: Callable[[object], T]) -> T | None:
    """``parse(value)``, reporting its ValueError as the problem."""
    try:
        return parse(value)
    except ValueError as exc:
        ctx.problem(path, str(exc))
        return None


def regex(ctx: Context, path: PathKey, value: object) -> re.Pattern[str] | None:
    """A non-empty string that compiles as a Python regular expression."""
    text = string(ctx, path, value)
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        ctx.problem(path, f"invalid regex: {exc.msg}")
        return None

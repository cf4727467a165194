"""Compile one policy file (``mode`` and ``rules``) and each of its rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gatekeeper.policy import fields as f
from gatekeeper.policy.attestation_section import compile_attestations
from gatekeeper.policy.fields import Context
from gatekeeper.policy.globs import GlobError, compile_repository_glob
from gatekeeper.policy.model import Mode, Rule, RuleAction, TagPolicy
from gatekeeper.policy.sections import (
    compile_image,
    compile_scan,
    compile_signatures,
    compile_tags,
)
from gatekeeper.policy.yamldoc import PathKey

T = TypeVar("T")

FILE_KEYS = ("mode", "rules")
RULE_KEYS = (
    "name",
    "repositories",
    "action",
    "mode",
    "tags",
    "signatures",
    "scan",
    "image",
    "attestations",
)
MODES = tuple(mode.value for mode in Mode)
ACTIONS = tuple(action.value for action in RuleAction)
# Sections that only mean something when the rule admits images.
CHECK_SECTIONS = ("tags", "signatures", "scan", "image", "attestations")


@dataclass(frozen=True, slots=True)
class CompiledFile:
    """What one file contributes: its mode (with the line it was set on) and rules."""

    mode: Mode | None
    mode_line: int
    rules: tuple[Rule, ...]


def compile_file(ctx: Context) -> CompiledFile:
    """Compile the document behind ``ctx`` into a mode and rules, reporting problems."""
    document = ctx.reporter.document
    top = f.mapping(ctx, (), document.data, FILE_KEYS, required=("rules",))
    if top is None:
        return CompiledFile(None, 1, ())
    mode = None
    if "mode" in top:
        mode = _mode(ctx, ("mode",), top["mode"])
    rules: tuple[Rule, ...] = ()
    if "rules" in top:
        rules = f.each(ctx, ("rules",), top["rules"], compile_rule)
    return CompiledFile(mode, document.line(("mode",)), rules)


def _mode(ctx: Context, path: PathKey, value: object) -> Mode | None:
    text = f.choice(ctx, path, value, MODES)
    return None if text is None else Mode(text)


def compile_rule(ctx: Context, path: PathKey, value: object) -> Rule | None:
    """One entry of ``rules``; None (after reporting) when it cannot be compiled."""
    section = f.mapping(ctx, path, value, RULE_KEYS, required=("name", "repositories"))
    if section is None:
        return None
    name = f.string(ctx, (*path, "name"), section["name"]) if "name" in section else None
    globs: tuple[tuple[str, re.Pattern[str]], ...] = ()
    if "repositories" in section:
        globs = f.each(ctx, (*path, "repositories"), section["repositories"], _repository_glob)
    action = RuleAction.ALLOW
    if "action" in section:
        text = f.choice(ctx, (*path, "action"), section["action"], ACTIONS)
        action = RuleAction(text) if text else action
    if action is RuleAction.DENY:
        _forbid_checks(ctx, path, section)
    mode = _mode(ctx, (*path, "mode"), section["mode"]) if "mode" in section else None
    tags = _section(ctx, path, section, "tags", compile_tags)
    signatures = _section(ctx, path, section, "signatures", compile_signatures)
    scan = _section(ctx, path, section, "scan", compile_scan)
    image = _section(ctx, path, section, "image", compile_image)
    attestations = _section(ctx, path, section, "attestations", compile_attestations)
    if name is None or not globs:
        return None
    return Rule(
        name=name,
        repositories=tuple(glob for glob, _ in globs),
        matchers=tuple(matcher for _, matcher in globs),
        action=action,
        mode=mode,
        tags=tags or TagPolicy(),
        signatures=signatures,
        scan=scan,
        image=image,
        attestations=attestations or (),
        source=f"{ctx.reporter.document.file}:{ctx.reporter.document.line(path)}",
    )


def _section(
    ctx: Context,
    path: PathKey,
    section: dict[str, object],
    key: str,
    compile_section: Callable[[Context, PathKey, object], T | None],
) -> T | None:
    if key not in section:
        return None
    return compile_section(ctx, (*path, key), section[key])


def _forbid_checks(ctx: Context, path: PathKey, section: dict[str, object]) -> None:
    # A deny rule refuses before anything is checked; checks written under it would
    # suggest a protection that never runs.
    for key in CHECK_SECTIONS:
        if key in section:
            ctx.problem((*path, key), f"a rule with action: deny cannot have '{key}'")


def _repository_glob(
    ctx: Context, path: PathKey, value: object
) -> tuple[str, re.Pattern[str]] | None:
    text = f.string(ctx, path, value)
    if text is None:
        return None
    try:
        return text, compile_repository_glob(text)
    except GlobError as exc:
        ctx.problem(path, f"invalid repository glob {text!r}: {exc}")
        return None

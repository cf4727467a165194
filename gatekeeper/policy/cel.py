"""CEL conditions over a verified in-toto statement: compiled with the policy, run sandboxed.

The expression language is CEL (github.com/google/cel-spec, as Kubernetes admission and
Kyverno use it) through ``cel-python``. CEL has no I/O, no loops of its own and no way to
define functions, so an expression can only read the values it is given: here the
verified statement, as four variables::

    statement      the whole statement
    predicateType  statement.predicateType
    subject        statement.subject (a list of {name, digest})
    predicate      statement.predicate

Compiled when the policy loads (:func:`compile_condition`), so ``gatekeeper policy check``
reports a syntax error, an unknown variable, an overlong expression or too deeply nested
macros at the condition's file and line. Bounds: :data:`MAX_EXPRESSION_CHARS` characters
and :data:`MAX_MACRO_DEPTH` nested comprehension macros (``all``, ``exists``, ``map``…), so
the work one expression can do stays polynomial of a small degree in the statement's size,
itself bounded by ``TrustLimits.max_attestation_bytes``; ``matches`` runs RE2 (linear time).

:func:`evaluate` answers ``True`` only for a boolean ``true``; an error (a missing field, a
type mismatch) or any other value is a failure, with the reason and the values the
expression read (each selected path, rendered bounded): a refusal can show them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError, CELUnsupportedError

MAX_EXPRESSION_CHARS = 2000
MAX_MACRO_DEPTH = 2
MAX_VALUE_CHARS = 120  # one value seen, as a refusal shows it
MAX_VALUES_SHOWN = 4
VARIABLES = ("statement", "predicateType", "subject", "predicate")
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_ENVIRONMENT = celpy.Environment()


class ConditionError(ValueError):
    """An expression that cannot be compiled; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled expression. Compares by source text: the fingerprint covers only that."""

    source: str
    _runner: celpy.Runner = field(compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Condition:
    """One CEL condition: its text, where it was written, and its compiled programs."""

    source: str
    where: str = field(default="", compare=False, metadata={"fingerprint": False})
    program: Program | None = field(
        default=None, compare=False, repr=False, metadata={"fingerprint": False}
    )
    # the member selections the expression reads (e.g. "predicate.builder.id"), compiled:
    # what a refusal shows as "values seen"
    reads: tuple[Program, ...] = field(
        default=(), compare=False, repr=False, metadata={"fingerprint": False}
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """Whether a condition held for one statement; why not, and the values it read."""

    held: bool
    reason: str = ""
    seen: tuple[str, ...] = ()


def compile_condition(source: str, where: str = "") -> Condition:
    """Compile ``source``; ConditionError naming the problem when it cannot be used."""
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ConditionError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    tree = _parse(source)
    bound = _check_tree(tree)
    unknown = sorted(_root_names(tree) - set(VARIABLES) - bound)
    if unknown:
        raise ConditionError(
            f"unknown variable {unknown[0]!r} (an expression reads {', '.join(VARIABLES)})"
        )
    program = Program(source, _ENVIRONMENT.program(tree))
    paths = [path for path in dict.fromkeys(_selections(tree)) if path.split(".")[0] in VARIABLES]
    reads = tuple(Program(path, _ENVIRONMENT.program(_parse(path))) for path in paths)
    return Condition(source, where, program, reads[:MAX_VALUES_SHOWN])


def activation(statement: Mapping[str, Any]) -> dict[str, celtypes.Value]:
    """The variables an expression sees for ``statement`` (converted once per statement)."""
    value = json_to_cel(dict(statement))
    assert isinstance(value, celtypes.MapType)
    return {
        "statement": value,
        "predicateType": value.get(celtypes.StringType("predicateType")),
        "subject": value.get(celtypes.StringType("subject")),
        "predicate": value.get(celtypes.StringType("predicate")),
    }


def evaluate(condition: Condition, variables: Mapping[str, celtypes.Value]) -> Outcome:
    """Run ``condition`` over ``variables`` (from :func:`activation`)."""
    if condition.program is None:  # built by hand, never compiled: fail closed
        return Outcome(False, "the condition was not compiled")
    result, error = _run(condition.program, variables)
    if error is None and isinstance(result, celtypes.BoolType) and bool(result):
        return Outcome(True)
    if error is not None:
        reason = f"error: {error}"
    elif isinstance(result, celtypes.BoolType):
        reason = "false"
    else:
        reason = f"not a boolean ({_render(result)})"
    return Outcome(False, reason, tuple(_seen(condition, variables)))


def _run(program: Program, variables: Mapping[str, celtypes.Value]) -> tuple[Any, str | None]:
    try:
        with program._lock:  # cel-python's evaluator is not documented as thread-safe
            return program._runner.evaluate(dict(variables)), None
    except CELEvalError as exc:
        return None, _bounded(str(exc.args[0] if exc.args else exc))
    except (CELUnsupportedError, TypeError, ValueError, KeyError, RecursionError) as exc:
        return None, _bounded(f"{type(exc).__name__}: {exc}")


def _seen(condition: Condition, variables: Mapping[str, celtypes.Value]) -> list[str]:
    shown = []
    for read in condition.reads:
        value, error = _run(read, variables)
        shown.append(f"{read.source} = {'(' + error + ')' if error else _render(value)}")
    return shown


def _render(value: Any) -> str:
    try:
        text = json.dumps(_plain(value), ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return _bounded(text)


def _plain(value: Any) -> Any:
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.MapType):
        return {str(key): _plain(item) for key, item in list(value.items())[:8]}
    if isinstance(value, celtypes.ListType):
        return [_plain(item) for item in list(value)[:8]]
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    return value


def _bounded(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _parse(source: str) -> lark.Tree[Any]:
    try:
        tree = _ENVIRONMENT.compile(source)
    except CELParseError as exc:
        raise ConditionError(_syntax_error(source, exc)) from exc
    except RecursionError as exc:
        raise ConditionError("CEL expression is nested too deeply") from exc
    return tree


def _syntax_error(source: str, exc: CELParseError) -> str:
    """Where parsing stopped: the token at ``line``/``column`` (1-based), marked with ▸."""
    line, column = exc.line or 1, exc.column
    if column is None:
        return "invalid CEL expression (syntax error)"
    lines = source.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    before, after = text[: column - 1], text[column - 1 :]
    before = before if len(before) <= 30 else "…" + before[-29:]
    after = after if len(after) <= 20 else after[:19] + "…"
    where = f"line {line} column {column}" if len(lines) > 1 else f"column {column}"
    return f"invalid CEL expression: syntax error at {where}: {before}▸{after}"


def _check_tree(tree: lark.Tree[Any]) -> set[str]:
    """The names comprehension macros bind; ConditionError when macros nest too deep."""
    bound: set[str] = set()

    def walk(node: lark.Tree[Any], depth: int) -> None:
        macro = _macro(node)
        if macro is not None:
            depth += 1
            if depth > MAX_MACRO_DEPTH:
                raise ConditionError(
                    f"comprehension macros ({', '.join(sorted(_MACROS))}) nest deeper than"
                    f" {MAX_MACRO_DEPTH}"
                )
            bound.update(macro)
        for child in node.children:
            if isinstance(child, lark.Tree):
                walk(child, depth)

    walk(tree, 0)
    return bound


def _macro(node: lark.Tree[Any]) -> tuple[str, ...] | None:
    """The variable a ``x.all(v, …)``-style macro binds, when ``node`` is one."""
    if node.data != "member_dot_arg" or len(node.children) < 2:
        return None
    name = node.children[1]
    if not isinstance(name, lark.Token) or str(name) not in _MACROS:
        return None
    args = node.children[2] if len(node.children) > 2 else None
    first = args.children[0] if isinstance(args, lark.Tree) and args.children else None
    names = [str(token) for token in _tokens(first) if token.type == "IDENT"][:1]
    return tuple(names)


def _tokens(node: object) -> list[lark.Token]:
    if isinstance(node, lark.Token):
        return [node]
    if isinstance(node, lark.Tree):
        return [token for child in node.children for token in _tokens(child)]
    return []


def _root_names(tree: lark.Tree[Any]) -> set[str]:
    """Every plain identifier the expression reads (``primary → ident``)."""
    return {
        str(node.children[0])
        for node in tree.iter_subtrees()
        if node.data == "ident" and node.children
    }


def _selections(tree: lark.Tree[Any]) -> list[str]:
    """The longest ``ident.field.field`` chains, as text: what the expression reads."""
    inner: set[int] = set()
    for node in tree.iter_subtrees():
        if node.data == "member_dot":
            base = node.children[0]
            while isinstance(base, lark.Tree) and base.data == "member" and base.children:
                base = base.children[0]  # cel-python wraps each step in a "member" node
            inner.add(id(base))
    found: list[str] = []

    def walk(node: lark.Tree[Any]) -> None:  # source order
        if node.data == "member_dot" and id(node) not in inner:
            path = _path(node)
            if path is not None:
                found.append(path)
        for child in node.children:
            if isinstance(child, lark.Tree):
                walk(child)

    walk(tree)
    return found


def _path(node: lark.Tree[Any]) -> str | None:
    """``predicate.a.b`` for a member_dot chain rooted at a plain identifier, else None."""
    if node.data == "member_dot":
        base, name = node.children[0], node.children[1]
        if not isinstance(base, lark.Tree) or not isinstance(name, lark.Token):
            return None
        prefix = _path(base)
        return None if prefix is None else f"{prefix}.{name}"
    if node.data in ("member", "primary") and len(node.children) == 1:
        child = node.children[0]
        return _path(child) if isinstance(child, lark.Tree) else None
    if node.data == "ident" and node.children:
        return str(node.children[0])
    return None

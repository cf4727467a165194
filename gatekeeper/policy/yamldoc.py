"""YAML documents as plain data plus the line of every key and item, for precise errors.

PyYAML's ``safe_load`` forgets where values came from and silently keeps the last of two
duplicate keys. Here the node graph is composed and walked by hand instead, so every
mapping key and sequence item is remembered with its line, duplicate keys are reported,
and YAML features a policy has no use for (merge keys, custom tags, recursive aliases)
are refused. Timestamps stay the strings they were written as, so that dates are
checked once, by the policy loader, and the JSON schema sees strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

PathKey = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_PLAIN_TYPES = (str, int, float, bool, type(None))


def format_path(path: PathKey) -> str:
    """``("rules", 0, "tags")`` → ``rules[0].tags``; the root is ``(document)``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(document)"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a policy cannot load, located by file, line and key path."""

    file: str
    line: int
    path: PathKey
    message: str

    def __str__(self) -> str:
        """The one problem format: ``FILE:LINE: KEY.PATH: message``."""
        return f"{self.file}:{self.line}: {format_path(self.path)}: {self.message}"


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed policy file: its data and the 1-based line of every key and item."""

    file: str
    data: object
    lines: Mapping[PathKey, int]
    broken: frozenset[PathKey] = frozenset()  # values already reported as unusable

    def line(self, path: PathKey) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path: PathKey, message: str) -> Problem:
        """A problem at ``path`` in this document."""
        return Problem(self.file, self.line(path), path, message)

    def is_broken(self, path: PathKey) -> bool:
        """True when ``path`` or a parent was already reported as unusable YAML."""
        return any(path[:size] in self.broken for size in range(len(path) + 1))


class Reporter:
    """Collects problems found in one document, each located by its key path."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []

    def add(self, path: PathKey, message: str) -> None:
        # A value the YAML walker could not use was reported once already; what
        # follows from it ("expected a string, got null") would only be noise.
        if not self.document.is_broken(path):
            self.problems.append(self.document.problem(path, message))


def parse_document(source: bytes, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document; return it (None when unusable) and the problems found."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return None, [_syntax_problem(exc, file)]
    if root is None:
        return None, [Problem(file, 1, (), "the file is empty")]
    walker = _Walker(file)
    walker.lines[()] = root.start_mark.line + 1
    data = walker.node(root, ())
    document = Document(file, data, dict(walker.lines), frozenset(walker.broken))
    return document, walker.problems


def _syntax_problem(exc: yaml.YAMLError, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 1
    return Problem(file, line, (), f"invalid YAML: {_yaml_message(exc)}")


def _yaml_message(exc: BaseException) -> str:
    # A MarkedYAMLError's str() repeats the source with a caret; the problem has the line.
    problem = str(getattr(exc, "problem", None) or exc)
    context = getattr(exc, "context", None)
    if context and problem.startswith("but "):
        return f"{context}, {problem}"  # "expected a single document …, but found another …"
    return problem


class _Walker:
    """Turns a composed node graph into plain data, recording lines and problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[PathKey, int] = {}
        self.problems: list[Problem] = []
        self.broken: set[PathKey] = set()
        self._active: set[int] = set()  # nodes on the current path: catches alias cycles
        self._constructor = SafeConstructor()

    def problem(self, node: Node, path: PathKey, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, path, message))
        self.broken.add(path)

    def node(self, node: Node, path: PathKey) -> object:
        if id(node) in self._active:
            self.problem(node, path, "recursive YAML alias")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: MappingNode, path: PathKey) -> object:
        if node.tag != _MAP:
            self.problem(node, path, f"unsupported YAML tag {node.tag}")
            return None
        out: dict[str, object] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:
                self.problem(key_node, path, "merge keys ('<<') are not supported")
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                self.problem(key_node, path, "mapping keys must be strings")
                continue
            key = str(key_node.value)
            if key in first_line:
                message = f"duplicate key '{key}' (first at line {first_line[key]})"
                self.problem(key_node, (*path, key), message)
                continue
            first_line[key] = line
            self.lines[(*path, key)] = line
            out[key] = self.node(value_node, (*path, key))
        return out

    def _sequence(self, node: SequenceNode, path: PathKey) -> object:
        if node.tag != _SEQ:
            self.problem(node, path, f"unsupported YAML tag {node.tag}")
            return None
        out: list[object] = []
        for index, item in enumerate(node.value):
            self.lines[(*path, index)] = item.start_mark.line + 1
            out.append(self.node(item, (*path, index)))
        return out

    def _scalar(self, node: Node, path: PathKey) -> object:
        if node.tag == _TIMESTAMP:
            return str(node.value)  # dates are validated by the loader, as strings
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            self.problem(node, path, f"invalid YAML value: {_yaml_message(exc)}")
            return None
        if not isinstance(value, _PLAIN_TYPES):
            self.problem(node, path, f"unsupported YAML tag {node.tag}")
            return None
        return value

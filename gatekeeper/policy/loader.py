"""Load policy files into one compiled, frozen :class:`Policy`, strictly.

Each path is a YAML file or a directory whose ``*.yaml``/``*.yml`` files (not hidden ones,
not recursively) are read in name order. Rules are concatenated in that order, so the
first matching rule of the first file wins. ``mode`` may be set in any number of files
but every file that sets it must agree; when none sets it the policy enforces.

Every problem in every file is collected before anything is refused, each as
``FILE:LINE: KEY.PATH: message``, and raised together as :class:`PolicyError`. Key files
and trusted roots are parsed here too (:mod:`gatekeeper.policy.trust_files`), and the
fingerprint is taken over the compiled result (:mod:`gatekeeper.policy.fingerprint`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gatekeeper.errors import ConfigError
from gatekeeper.policy.fields import Context
from gatekeeper.policy.files import FileStamp, WatchedFile
from gatekeeper.policy.fingerprint import policy_fingerprint
from gatekeeper.policy.model import Mode, Policy
from gatekeeper.policy.rules import CompiledFile, compile_file
from gatekeeper.policy.schema import schema_problems, schema_validator
from gatekeeper.policy.yamldoc import Document, PathKey, Problem, Reporter, parse_document

POLICY_SUFFIXES = (".yaml", ".yml")


class PolicyError(ConfigError):
    """A policy that cannot be loaded; ``problems`` lists every reason, one per line.

    ``trust_files`` are the key and trusted root files it named (as for Policy), so the
    policy store can retry when one of them is fixed.
    """

    def __init__(self, problems: Sequence[str], trust_files: Sequence[WatchedFile] = ()) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.trust_files: tuple[WatchedFile, ...] = tuple(trust_files)
        count = len(self.problems)
        summary = f"invalid policy ({count} problem{'' if count == 1 else 's'})"
        super().__init__("\n".join((summary, *self.problems)), detail=list(self.problems))


def load_policy(paths: Sequence[Path]) -> Policy:
    """Load and compile the policy files at ``paths``; raise PolicyError listing problems."""
    if not paths:
        raise PolicyError(["no policy files given"])
    files, problems = _policy_files(paths)
    loaded = [_load_file(file) for file in files]
    for item in loaded:
        problems.extend(item.problems)
    usable = [item for item in loaded if item.document is not None]
    problems.extend(_mode_conflicts(usable))
    problems.extend(_duplicate_names(usable))
    trust_files = _trust_files(loaded)
    if problems:
        ordered = [str(problem) for problem in _in_file_order(problems, loaded)]
        raise PolicyError(ordered, trust_files)
    mode = _mode(usable)
    rules = tuple(rule for item in loaded for rule in item.compiled.rules)
    return Policy(
        mode=mode,
        rules=rules,
        fingerprint=policy_fingerprint(mode, rules),
        sources=tuple(item.file for item in loaded),
        trust_files=trust_files,
    )


def check_paths(paths: Sequence[Path]) -> list[str]:
    """The problems that keep the policy at ``paths`` from loading; empty when it is valid."""
    try:
        load_policy(paths)
    except PolicyError as exc:
        return list(exc.problems)
    return []


@dataclass(frozen=True, slots=True)
class _LoadedFile:
    file: str
    document: Document | None
    compiled: CompiledFile
    trust_files: dict[Path, FileStamp | None]
    problems: list[Problem]


def _in_file_order(problems: list[Problem], loaded: Sequence[_LoadedFile]) -> list[Problem]:
    """Problems by file (in load order), then by line; walk order breaks ties."""
    rank = {item.file: index for index, item in enumerate(loaded)}
    return sorted(problems, key=lambda problem: (rank.get(problem.file, -1), problem.line))


def _policy_files(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)  # read (and reported if unreadable) by _load_file
            continue
        try:
            found = sorted(
                (child for child in path.iterdir() if _is_policy_file(child)),
                key=lambda child: child.name,
            )
        except OSError as exc:
            problems.append(Problem(str(path), 1, (), f"cannot list: {exc.strerror}"))
            continue
        if not found:
            problems.append(Problem(str(path), 1, (), "no *.yaml or *.yml files here"))
        files.extend(found)
    return files, problems


def _is_policy_file(path: Path) -> bool:
    # Hidden entries are editor droppings or, in a Kubernetes ConfigMap mount, the
    # "..data" directory that the visible symlinks already point into.
    return not path.name.startswith(".") and path.suffix in POLICY_SUFFIXES and path.is_file()


def _load_file(path: Path) -> _LoadedFile:
    file = str(path)
    empty = CompiledFile(None, 1, ())
    try:
        source = path.read_bytes()
    except OSError as exc:
        problem = Problem(file, 1, (), f"cannot read: {exc.strerror or exc}")
        return _LoadedFile(file, None, empty, {}, [problem])
    document, problems = parse_document(source, file)
    if document is None:
        return _LoadedFile(file, None, empty, {}, problems)
    ctx = Context(Reporter(document), path.parent)
    compiled = compile_file(ctx)
    problems.extend(ctx.reporter.problems)
    if not problems:
        # The walker above should catch everything the schema does; checking anyway
        # means a gap between the two shows up as a refusal rather than a lax load.
        problems.extend(schema_problems(document, schema_validator()))
    return _LoadedFile(file, document, compiled, ctx.trust_files, problems)


def _mode(loaded: Iterable[_LoadedFile]) -> Mode:
    modes = (item.compiled.mode for item in loaded if item.compiled.mode is not None)
    return next(modes, Mode.ENFORCE)  # fail closed: enforce unless a file says otherwise


def _mode_conflicts(loaded: Iterable[_LoadedFile]) -> list[Problem]:
    setting = [(item, item.compiled.mode) for item in loaded if item.compiled.mode is not None]
    if not setting:
        return []
    first, first_mode = setting[0]
    where = f"{first.file}:{first.compiled.mode_line}"
    problems = []
    for item, mode in setting[1:]:
        if mode is not first_mode:
            message = (
                f"mode '{mode.value}' conflicts with mode '{first_mode.value}' set at {where};"
                " set mode in one file or make them agree"
            )
            problems.append(Problem(item.file, item.compiled.mode_line, ("mode",), message))
    return problems


def _duplicate_names(loaded: Iterable[_LoadedFile]) -> list[Problem]:
    seen: dict[str, str] = {}
    problems = []
    for item in loaded:
        assert item.document is not None  # only parsed files are passed in
        for name, path in _rule_names(item.document):
            where = f"{item.file}:{item.document.line(path)}"
            if name in seen:
                message = f"duplicate rule name '{name}' (first defined at {seen[name]})"
                problems.append(item.document.problem(path, message))
            else:
                seen[name] = where
    return problems


def _rule_names(document: Document) -> list[tuple[str, PathKey]]:
    data = document.data
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        return []
    return [
        (rule["name"], ("rules", index, "name"))
        for index, rule in enumerate(rules)
        if isinstance(rule, dict) and isinstance(rule.get("name"), str)
    ]


def _trust_files(loaded: Sequence[_LoadedFile]) -> tuple[WatchedFile, ...]:
    """Every trust file named, once, with the earliest stamp taken (see policy.files)."""
    stamps: dict[Path, FileStamp | None] = {}
    for item in loaded:
        for path, stamp in item.trust_files.items():
            stamps.setdefault(path, stamp)
    return tuple(WatchedFile(path, stamp) for path, stamp in stamps.items())

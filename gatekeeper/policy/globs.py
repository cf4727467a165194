"""Repository globs and tag globs, compiled to regular expressions.

Repository globs work on ``/``-separated path segments:

* ``*`` matches within one segment: a segment that is only ``*`` matches exactly one
  (non-empty) segment; ``app-*`` matches ``app-`` followed by anything but ``/``.
* ``**`` must be a whole segment and matches any number of segments, zero included:
  ``team/**`` matches ``team``, ``team/app`` and ``team/a/b``; ``a/**/b`` matches ``a/b``
  and ``a/x/y/b``; ``**`` alone matches every repository.
* ``?`` matches one character other than ``/``.
* Everything else is literal, so a registry-qualified glob such as ``ghcr.io/acme/*`` is
  just more literal text.

Tag globs (``tags.deny``) use ``*`` (any run of characters) and ``?`` (one character) and
match the whole tag case-insensitively.
"""

from __future__ import annotations

import itertools
import re

_GLOBSTAR = "**"
# A tag is [A-Za-z0-9_][A-Za-z0-9._-]{0,127} (OCI distribution spec); a deny glob with any
# other character could never match, which is a typo worth reporting.
_TAG_GLOB = re.compile(r"[A-Za-z0-9_.*?-]{1,128}")


class GlobError(ValueError):
    """A glob that cannot be compiled; the message says why."""


def compile_repository_glob(glob: str) -> re.Pattern[str]:
    """Compile a repository glob into a pattern for ``fullmatch``; raise GlobError."""
    segments = _check_repository_glob(glob)
    pieces: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == _GLOBSTAR:
            pieces.append(_globstar(index, last))
            continue
        pieces.append(_segment(segment))
        # The separator belongs to a trailing "**" so that "team/**" also matches "team".
        if index < last and not (index + 1 == last and segments[last] == _GLOBSTAR):
            pieces.append("/")
    return re.compile("".join(pieces))


def repository_glob_matches(glob: str, repository: str) -> bool:
    """True when ``repository`` matches ``glob`` (a convenience for one-off checks)."""
    return compile_repository_glob(glob).fullmatch(repository) is not None


def _check_repository_glob(glob: str) -> list[str]:
    if not glob:
        raise GlobError("empty glob")
    if any(ch.isspace() for ch in glob):
        raise GlobError("glob contains whitespace")
    if "***" in glob:
        raise GlobError("'***' is not a wildcard; use '*' (one segment) or '**' (any number)")
    if glob.startswith("/") or glob.endswith("/"):
        raise GlobError("glob must not start or end with '/'")
    if "//" in glob:
        raise GlobError("glob contains an empty path segment ('//')")
    segments = glob.split("/")
    for segment in segments:
        if _GLOBSTAR in segment and segment != _GLOBSTAR:
            raise GlobError(f"'**' must be a whole path segment, not part of {segment!r}")
    for first, second in itertools.pairwise(segments):
        if first == second == _GLOBSTAR:
            raise GlobError("'**/**' is redundant; write '**'")
    return segments


def _globstar(index: int, last: int) -> str:
    if last == 0:
        return "[^/]+(?:/[^/]+)*"
    if index == last:
        return "(?:/[^/]+)*"  # zero or more "/segment" after the previous segment
    return "(?:[^/]+/)*"  # zero or more "segment/" before the next segment


def _segment(segment: str) -> str:
    if segment == "*":
        return "[^/]+"
    out: list[str] = []
    for ch in segment:
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def check_tag_glob(glob: str) -> str:
    """Validate a tag glob and return it lowercased (the form stored in TagPolicy.deny)."""
    if not _TAG_GLOB.fullmatch(glob):
        raise GlobError(
            "a tag glob is 1-128 letters, digits, '_', '.', '-' and the wildcards '*' and '?'"
        )
    return glob.lower()


def tag_glob_matches(glob: str, tag: str) -> bool:
    """True when the whole ``tag`` matches ``glob``, ignoring case."""
    pieces = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob]
    # re's own compile cache makes repeated matching cheap without state of our own.
    return re.fullmatch("".join(pieces), tag, re.IGNORECASE | re.DOTALL) is not None

"""Repository and tag glob semantics."""

from __future__ import annotations

import pytest

from gatekeeper.policy.globs import (
    GlobError,
    check_tag_glob,
    compile_repository_glob,
    tag_glob_matches,
)

REPOSITORY_GLOBS = [
    # (glob, repository, matches)
    ("team/app", "team/app", True),
    ("team/app", "team/app2", False),
    ("team/app", "team", False),
    ("team/*", "team/app", True),
    ("team/*", "team/a/b", False),
    ("team/*", "team", False),
    ("team/*", "team/", False),  # a segment is never empty
    ("*/app", "/app", False),
    ("team/*", "other/app", False),
    ("team/app-*", "team/app-web", True),
    ("team/app-*", "team/app-web/x", False),
    ("team/app-*", "team/api", False),
    ("*/app", "team/app", True),
    ("*/app", "a/b/app", False),
    ("*", "alpine", True),
    ("*", "library/alpine", False),
    ("team/**", "team/app", True),
    ("team/**", "team/a/b", True),
    ("team/**", "team", True),
    ("team/**", "teams/app", False),
    ("team/**", "other/team/app", False),
    ("**", "alpine", True),
    ("**", "a/b/c/d", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/x/y/c", False),
    ("a/**/b", "ab", False),
    ("a/**/b", "a/xb", False),
    ("**/app", "app", True),
    ("**/app", "x/y/app", True),
    ("**/app", "x/myapp", False),
    ("team/ap?", "team/app", True),
    ("team/ap?", "team/ap", False),
    ("team/ap?", "team/apps", False),
    ("team?app", "team/app", False),
    ("team.app", "teamxapp", False),  # "." is literal, not a regex wildcard
    ("lib+x", "lib+x", True),
    ("ghcr.io/acme/*", "ghcr.io/acme/tool", True),
    ("ghcr.io/acme/*", "ghcr.io/other/tool", False),
    ("ghcr.io/acme/*", "ghcrxio/acme/tool", False),
]


@pytest.mark.parametrize(
    ("glob", "repository", "expected"),
    REPOSITORY_GLOBS,
    ids=[f"{g}~{r}" for g, r, _ in REPOSITORY_GLOBS],
)
def test_repository_glob(glob: str, repository: str, expected: bool) -> None:
    assert (compile_repository_glob(glob).fullmatch(repository) is not None) is expected


INVALID_REPOSITORY_GLOBS = [
    ("", "empty glob"),
    ("team/ app", "glob contains whitespace"),
    ("team/\tapp", "glob contains whitespace"),
    ("team/***", "'***' is not a wildcard; use '*' (one segment) or '**' (any number)"),
    ("/team/app", "glob must not start or end with '/'"),
    ("team/app/", "glob must not start or end with '/'"),
    ("team//app", "glob contains an empty path segment ('//')"),
    ("team/app**", "'**' must be a whole path segment, not part of 'app**'"),
    ("**x/app", "'**' must be a whole path segment, not part of '**x'"),
    ("a/**/**/b", "'**/**' is redundant; write '**'"),
]


@pytest.mark.parametrize(
    ("glob", "message"),
    INVALID_REPOSITORY_GLOBS,
    ids=[repr(glob) for glob, _ in INVALID_REPOSITORY_GLOBS],
)
def test_invalid_repository_glob(glob: str, message: str) -> None:
    with pytest.raises(GlobError) as caught:
        compile_repository_glob(glob)
    assert str(caught.value) == message


TAG_GLOBS = [
    ("latest", "latest", True),
    ("latest", "LATEST", True),
    ("LATEST", "latest", True),
    ("latest", "latest-1", False),
    ("latest", "notlatest", False),
    ("*-dev", "1.2-dev", True),
    ("*-dev", "1.2-DEV", True),
    ("*-dev", "1.2-devel", False),
    ("v?", "v1", True),
    ("v?", "v10", False),
    ("*", "anything", True),
    ("1.*", "1.2", True),
    ("1.*", "1x2", False),  # "." is literal
]


@pytest.mark.parametrize(
    ("glob", "tag", "expected"), TAG_GLOBS, ids=[f"{g}~{t}" for g, t, _ in TAG_GLOBS]
)
def test_tag_glob(glob: str, tag: str, expected: bool) -> None:
    assert tag_glob_matches(check_tag_glob(glob), tag) is expected


@pytest.mark.parametrize(
    ("glob", "stored"), [("Latest", "latest"), ("*-RC?", "*-rc?")], ids=["word", "wildcards"]
)
def test_tag_glob_is_stored_lowercased(glob: str, stored: str) -> None:
    assert check_tag_glob(glob) == stored


@pytest.mark.parametrize(
    "glob",
    ["", "lat est", "v[0-9]", "a/b", "x" * 129],
    ids=["empty", "space", "set", "slash", "long"],
)
def test_invalid_tag_glob(glob: str) -> None:
    with pytest.raises(GlobError, match="a tag glob is 1-128 letters"):
        check_tag_glob(glob)

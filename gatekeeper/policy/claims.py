"""Compile ``claims`` of a keyless identity: Fulcio certificate claims the signer must carry.

``claims: {source_repository_uri: https://github.com/acme/app, source_repository_ref:
refs/heads/main, runner_environment: github-hosted, build_signer_uri: {regex: '^…'}}``:
a string matches exactly, ``{regex: …}`` by fullmatch. Names are those of
:mod:`gatekeeper.trust.fulcio_claims` (fulcio ``docs/oid-info.md``).
"""

from __future__ import annotations

from gatekeeper.policy import fields as f
from gatekeeper.policy.fields import Context
from gatekeeper.policy.model import ClaimMatcher
from gatekeeper.policy.yamldoc import PathKey
from gatekeeper.trust.fulcio_claims import CLAIM_NAMES


def compile_claims(ctx: Context, path: PathKey, value: object) -> tuple[ClaimMatcher, ...] | None:
    """The claim matchers, in the order written; a problem for each unknown name."""
    section = f.mapping(ctx, path, value, CLAIM_NAMES)
    if section is None:
        return None
    if not section and isinstance(value, dict) and not value:
        ctx.problem(path, "must name at least one claim")
    matchers = [_matcher(ctx, (*path, name), name, item) for name, item in section.items()]
    return tuple(matcher for matcher in matchers if matcher is not None)


def _matcher(ctx: Context, path: PathKey, name: str, value: object) -> ClaimMatcher | None:
    if isinstance(value, dict):
        entry = f.mapping(ctx, path, value, ("regex",), required=("regex",))
        if entry is None or "regex" not in entry:
            return None
        pattern = f.regex(ctx, (*path, "regex"), entry["regex"])
        return None if pattern is None else ClaimMatcher(name, regex=pattern)
    text = f.string(ctx, path, value)
    return None if text is None else ClaimMatcher(name, value=text)

"""Tag rules: deny globs, allow regexes, pull-by-digest only, immutable tags on push."""

from __future__ import annotations

from gatekeeper.policy.checks import PASS, CheckResult, combine, refuse
from gatekeeper.policy.evidence import AdmissionRequest
from gatekeeper.policy.globs import tag_glob_matches
from gatekeeper.policy.model import Action, TagPolicy


def check_tags(tags: TagPolicy, request: AdmissionRequest) -> CheckResult:
    """Check the tag a request names; a request by digest is pinned and always passes."""
    tag = request.tag
    if tag is None:
        return PASS
    denied = _deny_globs(tags, tag, request)
    # A tag an explicit deny pattern names needs no second reason from the allow-list.
    allowed = PASS if denied.refusals else _allow_regexes(tags, tag, request)
    return combine(
        [_require_digest(tags, request), denied, allowed, _immutable(tags, tag, request)]
    )


def _pin_hint(request: AdmissionRequest) -> str:
    return f"pin by digest ({request.repository}@{request.digest}) or an exact version tag"


def _require_digest(tags: TagPolicy, request: AdmissionRequest) -> CheckResult:
    if request.action is not Action.PULL or not tags.require_digest:
        return PASS
    return refuse(
        "pull by tag is not allowed; pin by digest",
        f"pull {request.repository}@{request.digest} instead",
        code="tag-digest-required",
    )


def _deny_globs(tags: TagPolicy, tag: str, request: AdmissionRequest) -> CheckResult:
    for pattern in tags.deny:
        if tag_glob_matches(pattern, tag):
            hint = _pin_hint(request) if request.action is Action.PULL else "push a version tag"
            return refuse(
                f"tag '{tag}' is not allowed (denied by pattern '{pattern}')",
                hint,
                code="tag-denied",
            )
    return PASS


def _allow_regexes(tags: TagPolicy, tag: str, request: AdmissionRequest) -> CheckResult:
    if not tags.allow or any(regex.search(tag) for regex in tags.allow):
        return PASS
    patterns = ", ".join(regex.pattern for regex in tags.allow)
    if request.action is Action.PULL:
        hint = _pin_hint(request)
    else:
        hint = f"push under a tag that matches {patterns}"
    return refuse(
        f"tag '{tag}' matches none of the allowed patterns {patterns}", hint, code="tag-not-allowed"
    )


def _immutable(tags: TagPolicy, tag: str, request: AdmissionRequest) -> CheckResult:
    current = request.current_tag_digest
    if request.action is not Action.PUSH or not tags.immutable:
        return PASS
    if current is None or current == request.digest:
        return PASS  # a new tag, or a re-push of the very same manifest
    return refuse(
        f"tag '{tag}' is immutable: it already points to {current}",
        f"push under a new tag instead of moving '{tag}'",
        code="tag-immutable",
    )

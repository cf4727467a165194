"""Image configuration checks (Docker security checklist items)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from gatekeeper.errors import ManifestInvalid
from gatekeeper.policy.checks import PASS, CheckResult, as_utc, combine, refuse
from gatekeeper.policy.evidence import ImageFacts
from gatekeeper.policy.model import ImagePolicy
from gatekeeper.policy.units import format_duration, format_size

BASE_NAME_LABEL = "org.opencontainers.image.base.name"
# Names that usually hold a credential. A name ending in _FILE/_PATH/_DIR points at one
# (the POSTGRES_PASSWORD_FILE convention) and is the recommended way, so it passes.
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL",
    re.IGNORECASE,
)
_SECRET_POINTER = re.compile(r"_(FILE|PATH|DIR)$", re.IGNORECASE)
_ADD_FROM_URL = re.compile(r"\bADD\b.*\bhttps?://")


def check_image(policy: ImagePolicy, facts: ImageFacts, now: datetime) -> CheckResult:
    """Every check ``policy`` enables, each refusal with its own hint."""
    return combine(
        [
            _user(policy, facts),
            _secrets_in_env(policy, facts),
            _healthcheck(policy, facts),
            _age(policy, facts, now),
            _add_from_url(policy, facts),
            _size(policy, facts),
            _required_labels(policy, facts),
            _trusted_base(policy, facts),
        ]
    )


def runs_as_root(user: str) -> bool:
    """True for an empty USER (root by default), ``root``, uid 0, with or without a group."""
    name = user.strip().split(":", 1)[0]
    return name in ("", "root") or (name.isdigit() and int(name) == 0)


def _user(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    if policy.user != "non-root" or not runs_as_root(facts.user):
        return PASS
    shown = f"user '{facts.user}'" if facts.user else "no USER set"
    return refuse(
        f"image runs as root ({shown})",
        "set a non-root USER in the Dockerfile (e.g. USER 65532:65532)",
        code="image-user",
    )


def _secrets_in_env(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    if not policy.forbid_secrets_in_env:
        return PASS
    names = []
    for entry in facts.env:
        name, _, value = entry.partition("=")
        if value and _SECRET_NAME.search(name) and not _SECRET_POINTER.search(name):
            names.append(name)  # the value is never repeated anywhere
    if not names:
        return PASS
    return refuse(
        f"environment variables look like secrets baked into the image: {', '.join(names)}",
        "pass secrets at run time (secret mounts or orchestrator secrets), never with ENV",
        code="image-secrets",
    )


def _healthcheck(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    if not policy.require_healthcheck or facts.healthcheck:
        return PASS
    return refuse(
        "image has no HEALTHCHECK",
        "add a HEALTHCHECK instruction to the Dockerfile",
        code="image-healthcheck",
    )


def _age(policy: ImagePolicy, facts: ImageFacts, now: datetime) -> CheckResult:
    if policy.max_age is None:
        return PASS
    max_age = format_duration(policy.max_age)
    hint = "rebuild the image on a current base"
    if facts.created is None:
        return refuse(
            f"image has no creation time, so image.max_age {max_age} fails", hint, code="image-age"
        )
    created = as_utc(facts.created)
    if created + policy.max_age >= as_utc(now):
        return PASS
    return refuse(
        f"image is older than image.max_age {max_age} (created {created:%Y-%m-%dT%H:%M:%SZ})",
        hint,
        code="image-age",
    )


def _add_from_url(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    if not policy.forbid_add_from_url:
        return PASS
    # Only the step number is named: a URL may carry credentials.
    steps = [str(i) for i, line in enumerate(facts.history, 1) if _ADD_FROM_URL.search(line)]
    if not steps:
        return PASS
    return refuse(
        f"image history adds files from a URL (ADD http(s)://…, step {', '.join(steps)})",
        "download with a pinned checksum (ADD --checksum=… or RUN curl + sha256sum), or COPY",
        code="image-add-url",
    )


def _size(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    limit = policy.max_size_bytes
    if limit is None or facts.size_bytes <= limit:
        return PASS
    return refuse(
        f"image is {format_size(facts.size_bytes)}, larger than image.max_size"
        f" {format_size(limit)}",
        "slim the image (multi-stage build, smaller base, fewer layers)",
        code="image-size",
    )


def _required_labels(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    missing = [key for key in policy.required_labels if not facts.labels.get(key, "").strip()]
    if not missing:
        return PASS
    return refuse(
        f"image lacks required labels: {', '.join(missing)}",
        "add them with LABEL in the Dockerfile (or --label at build time)",
        code="image-labels",
    )


def _trusted_base(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    if not policy.trusted_bases:
        return PASS
    base = facts.labels.get(BASE_NAME_LABEL, "").strip()
    hint = (
        f"build FROM one of {', '.join(policy.trusted_bases)} and record it in the"
        f" {BASE_NAME_LABEL} label"
    )
    if not base:
        return refuse(
            f"base image unknown: label {BASE_NAME_LABEL} is not set", hint, code="image-base"
        )
    if any(is_trusted_base(base, prefix) for prefix in policy.trusted_bases):
        return PASS
    return refuse(f"base image {base} is untrusted", hint, code="image-base")


def is_trusted_base(base: str, prefix: str) -> bool:
    """``base`` starts with ``prefix`` at a name boundary.

    ``docker.io/library/alpine`` trusts ``…/alpine``, ``…/alpine:3.20``, ``…/alpine@sha256:…``
    and ``…/alpine/x`` but not ``…/alpine-evil``; a prefix that ends in ``/``, ``:`` or ``@``
    already marks its own boundary.
    """
    if not base.startswith(prefix):
        return False
    rest = base[len(prefix) :]
    return not rest or prefix.endswith(("/", ":", "@")) or rest[0] in "/:@"


def merge_platforms(platforms: Sequence[ImageFacts]) -> ImageFacts:
    """One ImageFacts for an index: what would fail for any platform fails for the index."""
    if not platforms:
        raise ManifestInvalid("index lists no platform images to check")
    users = [facts.user for facts in platforms]
    created = [facts.created for facts in platforms if facts.created is not None]
    labels = dict(platforms[0].labels)
    for facts in platforms[1:]:
        labels = {k: v for k, v in labels.items() if facts.labels.get(k) == v}
    return ImageFacts(
        user=next((user for user in users if runs_as_root(user)), users[0]),
        env=tuple(dict.fromkeys(entry for facts in platforms for entry in facts.env)),
        healthcheck=all(facts.healthcheck for facts in platforms),
        created=min(created) if len(created) == len(platforms) else None,
        labels=labels,
        history=tuple(line for facts in platforms for line in facts.history),
        size_bytes=max(facts.size_bytes for facts in platforms),
    )

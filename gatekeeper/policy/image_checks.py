"""Image configuration checks (Docker security checklist items)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from gatekeeper.errors import ManifestInvalid
from gatekeeper.policy.checks import PASS, CheckResult, as_utc, combine, note, refuse
from gatekeeper.policy.evidence import ImageFacts
from gatekeeper.policy.model import ImagePolicy
from gatekeeper.policy.provenance_bases import SignedBases
from gatekeeper.policy.secret_values import SecretFinding, find_secrets
from gatekeeper.policy.units import format_duration, format_size

BASE_NAME_LABEL = "org.opencontainers.image.base.name"
SHOWN = 3  # base images a refusal names; the rest are counted
_ADD_FROM_URL = re.compile(r"\bADD\b.*\bhttps?://")


def check_image(
    policy: ImagePolicy,
    facts: ImageFacts,
    now: datetime,
    provenance: SignedBases | None = None,
) -> CheckResult:
    """Every check ``policy`` enables, each refusal with its own hint.

    ``provenance``: what verified SLSA provenance says the build started from (None: there
    is none); the trusted-base check prefers it to the image's own label.
    """
    return combine(
        [
            _user(policy, facts),
            _secrets(policy, facts),
            _healthcheck(policy, facts),
            _age(policy, facts, now),
            _add_from_url(policy, facts),
            _size(policy, facts),
            _layers(policy, facts),
            _required_labels(policy, facts),
            _trusted_base(policy, facts, provenance),
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


def _secrets(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    sources = set()
    if policy.forbid_secrets_in_env:
        sources.add("env")
    if policy.forbid_secrets_in_labels:
        sources.add("label")
    if not sources:
        return PASS
    found = facts.secrets if facts.secrets is not None else find_secrets(facts)
    # Only where each secret is and its kind: the value is never repeated anywhere.
    shown = [str(item) for item in found if item.source in sources]
    if not shown:
        return PASS
    return refuse(
        f"secrets baked into the image: {', '.join(dict.fromkeys(shown))}",
        "pass secrets at run time (secret mounts or orchestrator secrets), never with ENV or"
        " LABEL; rotate the ones that were pushed",
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


def _layers(policy: ImagePolicy, facts: ImageFacts) -> CheckResult:
    limit = policy.max_layers
    if limit is None or facts.layers <= limit:
        return PASS
    return refuse(
        f"image has {facts.layers} layers, more than image.max_layers {limit}",
        "merge RUN steps and use a multi-stage build to copy only what runs",
        code="image-layers",
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


def _trusted_base(
    policy: ImagePolicy, facts: ImageFacts, provenance: SignedBases | None
) -> CheckResult:
    if not policy.trusted_bases:
        return PASS
    hint = (
        f"build FROM one of {', '.join(policy.trusted_bases)}; gatekeeper reads the base from"
        f" signed SLSA provenance the rule requires, else from the {BASE_NAME_LABEL} label"
    )
    if provenance is not None and provenance.images:
        return _trusted_by_provenance(policy, provenance, hint)
    # The self-declared label is the fallback: anyone who can build can write it.
    why = (
        f"{provenance.described} names no image"
        if provenance is not None
        else "no signed provenance names it"
    )
    base = facts.labels.get(BASE_NAME_LABEL, "").strip()
    if not base:
        return refuse(
            f"base image unknown: {why}, and label {BASE_NAME_LABEL} is not set",
            hint,
            code="image-base",
        )
    if _trusted(policy, base):
        return PASS
    return refuse(
        f"base image {base} is untrusted (read from label {BASE_NAME_LABEL}: {why})",
        hint,
        code="image-base",
    )


def _trusted_by_provenance(policy: ImagePolicy, provenance: SignedBases, hint: str) -> CheckResult:
    # Every image the build resolved: each stage's base and a `# syntax=` frontend alike.
    untrusted = [image for image in provenance.images if not _trusted(policy, image)]
    if not untrusted:
        shown = ", ".join(provenance.images[:SHOWN])
        more = _more(len(provenance.images))
        return note(f"base images {shown}{more} are trusted (read from {provenance.described})")
    shown = ", ".join(untrusted[:SHOWN])
    return refuse(
        f"base image{'s' if len(untrusted) > 1 else ''} {shown}{_more(len(untrusted))}"
        f" untrusted (read from {provenance.described})",
        hint,
        code="image-base",
    )


def _trusted(policy: ImagePolicy, base: str) -> bool:
    return any(is_trusted_base(base, prefix) for prefix in policy.trusted_bases)


def _more(count: int) -> str:
    return f" and {count - SHOWN} more" if count > SHOWN else ""


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
        layers=max(facts.layers for facts in platforms),
        secrets=_merged_secrets(platforms),
    )


def _merged_secrets(platforms: Sequence[ImageFacts]) -> tuple[SecretFinding, ...] | None:
    if any(facts.secrets is None for facts in platforms):
        return None  # the check scans the merged ENV and labels itself
    return tuple(dict.fromkeys(item for facts in platforms for item in facts.secrets or ()))

"""Compile the ``tags``, ``signatures``, ``scan`` and ``image`` sections of a rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from gatekeeper.errors import GatekeeperError
from gatekeeper.oci.grammar import check_name
from gatekeeper.policy import fields as f
from gatekeeper.policy.claims import compile_claims
from gatekeeper.policy.fields import Context
from gatekeeper.policy.globs import GlobError, check_tag_glob
from gatekeeper.policy.model import (
    IgnoredVulnerability,
    ImagePolicy,
    KeylessIdentity,
    ScanPolicy,
    SignaturePolicy,
    TagPolicy,
)
from gatekeeper.policy.notation_section import compile_notation
from gatekeeper.policy.trust_files import compile_key, compile_trusted_root, production_root
from gatekeeper.policy.units import parse_date, parse_duration, parse_size
from gatekeeper.policy.yamldoc import PathKey
from gatekeeper.trust.material import trust_material

T = TypeVar("T")

TAG_KEYS = ("deny", "allow", "require_digest", "immutable")
SIGNATURE_KEYS = (
    "keys",
    "keyless",
    "notation",
    "threshold",
    "transparency_log",
    "timestamps",
    "trusted_root",
    "repository",
)
KEYLESS_KEYS = ("issuer", "issuer_regex", "subject", "subject_regex", "claims")
SCAN_KEYS = (
    "deny_severities",
    "require_verdict",
    "max_age",
    "ignore_unfixed",
    "ignore",
    "scanner",
    "vex",
)
IGNORE_KEYS = ("id", "reason", "until")
IMAGE_KEYS = (
    "user",
    "forbid_secrets_in_env",
    "forbid_secrets_in_labels",
    "require_healthcheck",
    "max_age",
    "forbid_add_from_url",
    "max_size",
    "max_layers",
    "trusted_bases",
    "required_labels",
)
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
TRANSPARENCY_LOG = ("optional", "required")
USERS = ("non-root", "any")


def compile_tags(ctx: Context, path: PathKey, value: object) -> TagPolicy | None:
    """``tags: {deny: [glob], allow: [regex], require_digest: bool, immutable: bool}``."""
    section = f.mapping(ctx, path, value, TAG_KEYS)
    if section is None:
        return None
    return TagPolicy(
        deny=_list(ctx, path, section, "deny", _tag_glob),
        allow=_list(ctx, path, section, "allow", f.regex),
        require_digest=_flag(ctx, path, section, "require_digest", False),
        immutable=_flag(ctx, path, section, "immutable", False),
    )


def _tag_glob(ctx: Context, path: PathKey, value: object) -> str | None:
    text = f.string(ctx, path, value)
    if text is None:
        return None
    try:
        return check_tag_glob(text)
    except GlobError as exc:
        ctx.problem(path, f"invalid tag glob {text!r}: {exc}")
        return None


def compile_signatures(ctx: Context, path: PathKey, value: object) -> SignaturePolicy | None:
    """``signatures: {keys, keyless, notation, threshold, transparency_log, timestamps,
    trusted_root}``.

    Key files and the trusted root are read and parsed here, into ``material``; Notation
    trust stores into ``notation.material``. Signers counted by ``threshold``: each cosign
    key, each keyless identity and each Notation trusted identity (not at level audit).
    """
    section = f.mapping(ctx, path, value, SIGNATURE_KEYS)
    if section is None:
        return None
    keys = _list(ctx, path, section, "keys", compile_key)
    keyless = _list(ctx, path, section, "keyless", _keyless)
    notation = _one(ctx, path, section, "notation", compile_notation)
    if not any(key in section for key in ("keys", "keyless", "notation")):
        ctx.problem(
            path, "a signatures section must list at least one key, keyless identity or notation"
        )
    if notation is not None and notation.trust_policy is not None:
        # An imported trust policy decides per repository, as Notation does; mixing it with
        # cosign signers or a threshold would leave no single meaning for either.
        for other in ("keys", "keyless", "threshold"):
            if other in section:
                ctx.problem(
                    (*path, other),
                    f"{other} cannot be combined with notation.trust_policy (the imported"
                    " statement's level decides; write a second rule or native notation keys)",
                )
    # Count what was written, valid or not, so a bad entry is not also a threshold problem.
    listed = _count(section.get("keys")) + _count(section.get("keyless"))
    listed += notation.signer_count if notation else _notation_count(section.get("notation"))
    # Only an audit-level notation part: nothing is enforced, so nothing is counted.
    threshold = 1 if listed or "notation" not in section else 0
    if "threshold" in section:
        threshold = f.integer(ctx, (*path, "threshold"), section["threshold"], 1) or 1
        if threshold > listed and (listed > 0 or "notation" in section):
            ctx.problem(
                (*path, "threshold"),
                f"threshold {threshold} exceeds the number of keys and identities"
                f" listed ({listed})",
            )
    log = _one(ctx, path, section, "transparency_log", _requirement) or "optional"
    named_root = _one(ctx, path, section, "trusted_root", compile_trusted_root)
    if "trusted_root" in section:
        root = named_root[1] if named_root else None
    else:
        root = production_root(ctx, path)
    return SignaturePolicy(
        keys=tuple(key_path for key_path, _ in keys),
        keyless=keyless,
        threshold=threshold,
        transparency_log=log,
        timestamps=_one(ctx, path, section, "timestamps", _requirement) or "optional",
        trusted_root=named_root[0] if named_root else None,
        material=trust_material(tuple(key for _, key in keys), root) if root else None,
        notation=notation,
        repository=_one(ctx, path, section, "repository", _repository),
    )


def _repository(ctx: Context, path: PathKey, value: object) -> str | None:
    text = f.string(ctx, path, value)
    if text is None:
        return None
    try:
        return check_name(text)
    except GatekeeperError as exc:
        ctx.problem(path, exc.message)
        return None


def _notation_count(value: object) -> int:
    """Signers a notation section that failed to compile would have counted."""
    if isinstance(value, dict) and "trust_policy" in value:
        return 1
    if not isinstance(value, dict) or value.get("level") == "audit":
        return 0
    return _count(value.get("trusted_identities"))


def _requirement(ctx: Context, path: PathKey, value: object) -> str | None:
    return f.choice(ctx, path, value, TRANSPARENCY_LOG)


def _count(value: object) -> int:
    return len(value) if isinstance(value, list) else 0


def _keyless(ctx: Context, path: PathKey, value: object) -> KeylessIdentity | None:
    entry = f.mapping(ctx, path, value, KEYLESS_KEYS)
    if entry is None:
        return None
    if ("issuer" in entry) == ("issuer_regex" in entry):
        ctx.problem(path, "set exactly one of issuer or issuer_regex")
        return None
    issuer = _one(ctx, path, entry, "issuer", f.string)
    issuer_regex = _one(ctx, path, entry, "issuer_regex", f.regex)
    claims = _one(ctx, path, entry, "claims", compile_claims) or ()
    has_subject, has_regex = "subject" in entry, "subject_regex" in entry
    if has_subject == has_regex:
        ctx.problem(path, "set exactly one of subject or subject_regex")
        return None
    if issuer is None and issuer_regex is None:
        return None
    if has_subject:
        subject = f.string(ctx, (*path, "subject"), entry["subject"])
        if subject is None:
            return None
        return KeylessIdentity(issuer, subject, issuer_regex=issuer_regex, claims=claims)
    pattern = f.regex(ctx, (*path, "subject_regex"), entry["subject_regex"])
    if pattern is None:
        return None
    return KeylessIdentity(issuer, subject_regex=pattern, issuer_regex=issuer_regex, claims=claims)


def compile_scan(ctx: Context, path: PathKey, value: object) -> ScanPolicy | None:
    """``scan: {deny_severities, require_verdict, max_age, ignore_unfixed, ignore, scanner,
    vex}``."""
    # vex_section builds on compile_signatures from this module: imported here, not above.
    from gatekeeper.policy.vex_section import compile_vex

    section = f.mapping(ctx, path, value, SCAN_KEYS)
    if section is None:
        return None
    defaults = ScanPolicy()
    severities = defaults.deny_severities
    if "deny_severities" in section:
        # An empty list is meaningful: a verdict is required, but no finding blocks.
        found = f.each(
            ctx, (*path, "deny_severities"), section["deny_severities"], _severity, allow_empty=True
        )
        severities = tuple(dict.fromkeys(found))
    return ScanPolicy(
        deny_severities=severities,
        require_verdict=_flag(ctx, path, section, "require_verdict", defaults.require_verdict),
        max_age=_optional(ctx, path, section, "max_age", parse_duration),
        ignore_unfixed=_flag(ctx, path, section, "ignore_unfixed", defaults.ignore_unfixed),
        ignore=_list(ctx, path, section, "ignore", _ignored),
        scanner=_one(ctx, path, section, "scanner", _scanner),
        vex=_one(ctx, path, section, "vex", compile_vex),
    )


def _severity(ctx: Context, path: PathKey, value: object) -> str | None:
    text = f.string(ctx, path, value)
    if text is None:
        return None
    if not text.isascii() or text.upper() not in SEVERITIES:
        ctx.problem(path, f"unknown severity {text!r} (allowed: {', '.join(SEVERITIES)})")
        return None
    return text.upper()


def _ignored(ctx: Context, path: PathKey, value: object) -> IgnoredVulnerability | None:
    entry = f.mapping(ctx, path, value, IGNORE_KEYS, required=("id", "reason"))
    if entry is None:
        return None
    vuln_id = f.string(ctx, (*path, "id"), entry["id"]) if "id" in entry else None
    reason = f.string(ctx, (*path, "reason"), entry["reason"]) if "reason" in entry else None
    until = _optional(ctx, path, entry, "until", parse_date)
    if vuln_id is None or reason is None:
        return None
    return IgnoredVulnerability(vuln_id, reason, until)


def _scanner(ctx: Context, path: PathKey, value: object) -> str | None:
    url = f.string(ctx, path, value)
    if url is not None and not url.startswith(("http://", "https://")):
        ctx.problem(path, f"expected an http:// or https:// URL, got {url!r}")
        return None
    return url


def compile_image(ctx: Context, path: PathKey, value: object) -> ImagePolicy | None:
    """``image: {user, forbid_secrets_in_env, require_healthcheck, max_age, …}``."""
    section = f.mapping(ctx, path, value, IMAGE_KEYS)
    if section is None:
        return None
    return ImagePolicy(
        user=_one(ctx, path, section, "user", _user),
        forbid_secrets_in_env=_flag(ctx, path, section, "forbid_secrets_in_env", False),
        forbid_secrets_in_labels=_flag(ctx, path, section, "forbid_secrets_in_labels", False),
        require_healthcheck=_flag(ctx, path, section, "require_healthcheck", False),
        max_age=_optional(ctx, path, section, "max_age", parse_duration),
        forbid_add_from_url=_flag(ctx, path, section, "forbid_add_from_url", False),
        max_size_bytes=_optional(ctx, path, section, "max_size", parse_size),
        max_layers=_one(ctx, path, section, "max_layers", _positive),
        trusted_bases=_list(ctx, path, section, "trusted_bases", f.string),
        required_labels=_list(ctx, path, section, "required_labels", f.string),
    )


def _flag(ctx: Context, path: PathKey, section: dict[str, object], key: str, default: bool) -> bool:
    if key not in section:
        return default
    checked = f.boolean(ctx, (*path, key), section[key])
    return default if checked is None else checked


def _optional(
    ctx: Context, path: PathKey, section: dict[str, object], key: str, parse: Callable[[object], T]
) -> T | None:
    if key not in section:
        return None
    return f.parsed(ctx, (*path, key), section[key], parse)


def _positive(ctx: Context, path: PathKey, value: object) -> int | None:
    return f.integer(ctx, path, value, 1)


def _user(ctx: Context, path: PathKey, value: object) -> str | None:
    return f.choice(ctx, path, value, USERS)


def _one(
    ctx: Context,
    path: PathKey,
    section: dict[str, object],
    key: str,
    convert: Callable[[Context, PathKey, object], T | None],
) -> T | None:
    """``section[key]`` converted, or None when the key is absent."""
    if key not in section:
        return None
    return convert(ctx, (*path, key), section[key])


def _list(
    ctx: Context,
    path: PathKey,
    section: dict[str, object],
    key: str,
    convert: Callable[[Context, PathKey, object], T | None],
) -> tuple[T, ...]:
    """Every item of the list ``section[key]`` converted; () when the key is absent."""
    if key not in section:
        return ()
    return f.each(ctx, (*path, key), section[key], convert)

"""Compile ``signatures.notation``: trust store files parsed, identities checked, level.

``trust_store`` (and ``signing_authority``, ``tsa_trust_store``) take one file or a list,
relative to the policy file; each is read and its certificates parsed now (DESIGN.md, style
rule 11), so an unreadable file or a bad certificate is a load error at its key's line.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from gatekeeper.policy import fields as f
from gatekeeper.policy.fields import Context
from gatekeeper.policy.notation import (
    IdentityError,
    NotationLevel,
    NotationPolicy,
    TrustedIdentity,
    parse_identity,
)
from gatekeeper.policy.notation_import import IMPORT_KEYS, compile_notation_import
from gatekeeper.policy.trust_files import read_trust_file
from gatekeeper.policy.yamldoc import PathKey
from gatekeeper.trust.errors import TrustError
from gatekeeper.trust.notation.store import (
    MAX_STORE_FILE_BYTES,
    load_certificates,
    notation_trust,
)

NOTATION_KEYS = (
    "trust_store",
    "trusted_identities",
    "level",
    "signing_authority",
    "tsa_trust_store",
    "verify_timestamp",
)
VERIFY_TIMESTAMP = ("always", "after_cert_expiry")
_VERIFY_TIMESTAMP_SPEC = {"always": "always", "after_cert_expiry": "afterCertExpiry"}
LEVELS = tuple(level.value for level in NotationLevel)

Store = tuple[tuple[Path, ...], tuple[x509.Certificate, ...]]


def compile_notation(ctx: Context, path: PathKey, value: object) -> NotationPolicy | None:
    """``notation: {trust_store, trusted_identities, level, signing_authority, tsa_trust_store,
    verify_timestamp}``.

    ``trust_store`` and ``trusted_identities`` are required; ``level`` defaults to strict.
    Or, instead, ``{trust_policy, trust_store_dir, registry}``: a Notation trustpolicy.json
    imported (:mod:`gatekeeper.policy.notation_import`).
    """
    if isinstance(value, dict) and "trust_policy" in value:
        imported = f.mapping(ctx, path, value, IMPORT_KEYS, required=("trust_policy", "registry"))
        return None if imported is None else compile_notation_import(ctx, path, imported)
    section = f.mapping(
        ctx, path, value, NOTATION_KEYS, required=("trust_store", "trusted_identities")
    )
    if section is None:
        return None
    ca = _store(ctx, path, section, "trust_store")
    sa = _store(ctx, path, section, "signing_authority")
    tsa = _store(ctx, path, section, "tsa_trust_store")
    identities = _identities(ctx, path, section)
    level = NotationLevel.STRICT
    if "level" in section:
        chosen = f.choice(ctx, (*path, "level"), section["level"], LEVELS)
        level = NotationLevel(chosen) if chosen else level
    verify_timestamp = "always"
    if "verify_timestamp" in section:
        chosen = f.choice(
            ctx, (*path, "verify_timestamp"), section["verify_timestamp"], VERIFY_TIMESTAMP
        )
        verify_timestamp = _VERIFY_TIMESTAMP_SPEC[chosen] if chosen else verify_timestamp
    if ca is None or sa is None or tsa is None or identities is None:
        return None
    return NotationPolicy(
        trust_store=ca[0],
        trusted_identities=identities,
        level=level,
        signing_authority=sa[0],
        tsa_trust_store=tsa[0],
        verify_timestamp=verify_timestamp,
        material=notation_trust(ca[1], sa[1], tsa[1]),
    )


def _store(ctx: Context, path: PathKey, section: dict[str, object], key: str) -> Store | None:
    """The files under ``key`` (one string or a list) and their certificates; None: problem."""
    if key not in section:
        return (), ()
    raw = section[key]
    at = (*path, key)
    entries = [(at, raw)] if isinstance(raw, str) else None
    if entries is None:
        if not isinstance(raw, list) or not raw:
            ctx.problem(
                at, f"expected a file name or a non-empty list of file names, got {f.kind_of(raw)}"
            )
            return None
        entries = [((*at, i), item) for i, item in enumerate(raw)]
    paths: list[Path] = []
    certs: list[x509.Certificate] = []
    ok = True
    for where, item in entries:
        read = read_trust_file(ctx, where, item, MAX_STORE_FILE_BYTES)
        if read is None:
            ok = False
            continue
        resolved, data = read
        try:
            certs.extend(load_certificates(data, str(resolved)))
        except TrustError as exc:
            ctx.problem(where, exc.message)
            ok = False
            continue
        paths.append(resolved)
    return (tuple(paths), tuple(certs)) if ok else None


def _identities(
    ctx: Context, path: PathKey, section: dict[str, object]
) -> tuple[TrustedIdentity, ...] | None:
    if "trusted_identities" not in section:
        return None
    at = (*path, "trusted_identities")
    texts = f.each(ctx, at, section["trusted_identities"], f.string)
    if not isinstance(section["trusted_identities"], list) or len(texts) != len(
        section["trusted_identities"]
    ):
        return None
    identities: list[TrustedIdentity] = []
    for i, text in enumerate(texts):
        try:
            identity = parse_identity(text)
        except IdentityError as exc:
            ctx.problem((*at, i), f"invalid trusted identity {text!r}: {exc}")
            return None
        for earlier in identities:
            if identity.overlaps(earlier):
                ctx.problem(
                    (*at, i),
                    f"trusted identity {text!r} overlaps {earlier.text!r}: one certificate"
                    " could match both (the Notary Project trust policy forbids this)",
                )
                return None
        identities.append(identity)
    return tuple(identities)

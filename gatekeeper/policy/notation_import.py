"""Import a Notation OCI trust policy (``trustpolicy.json``) and its trust store directory.

What Notation users already have (``trust-store-trust-policy.md``): ``trustpolicy.json`` (or
``trustpolicy.oci.json``) and, beside it, ``truststore/x509/{ca,signingAuthority,tsa}/<name>/``
holding ``.pem``/``.crt``/``.cer`` root certificates. A rule names them::

    signatures:
      notation:
        trust_policy: /etc/notation/trustpolicy.json
        trust_store_dir: /etc/notation/truststore   # default: truststore beside the policy
        registry: registry.acme-rockets.io          # how registryScopes name this registry

Everything is compiled now (DESIGN.md, style rule 11): the JSON is checked against the
specification's constraints, every named store referenced is read and its certificates
parsed, identities are parsed and checked for overlap; each problem names the file and the
JSON path (``trustpolicy.json: $.trustPolicies[1].trustStores[0]: …``). ``override`` may
set ``expiry`` and ``authenticTimestamp`` (``revocation`` is accepted: never checked).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography import x509

from gatekeeper.oci.strict_json import no_duplicate_keys
from gatekeeper.policy import fields as f
from gatekeeper.policy.fields import Context
from gatekeeper.policy.files import file_stamp
from gatekeeper.policy.notation import (
    ANY_IDENTITY,
    IdentityError,
    NotationLevel,
    NotationPolicy,
    NotationStatement,
    NotationTrustPolicy,
    TrustedIdentity,
    parse_identity,
)
from gatekeeper.policy.yamldoc import PathKey
from gatekeeper.trust.errors import TrustError
from gatekeeper.trust.notation.store import (
    MAX_STORE_FILE_BYTES,
    load_certificates,
    notation_trust,
)

IMPORT_KEYS = ("trust_policy", "trust_store_dir", "registry")
MAX_TRUST_POLICY_BYTES = 1024 * 1024
MAX_STORE_FILES = 256
_STORE_TYPES = {"ca": "ca", "signingAuthority": "signingAuthority", "tsa": "tsa"}
_STORE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # notation-go's named-store rule
_CERT_SUFFIXES = (".pem", ".crt", ".cer")
_STATEMENT_KEYS = frozenset(
    {"name", "registryScopes", "signatureVerification", "trustStores", "trustedIdentities"}
)
_LEVELS = ("strict", "permissive", "audit", "skip")


class _Problems:
    """Problems found in one trust policy file, each with its JSON path."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}")


def compile_notation_import(
    ctx: Context, path: PathKey, section: dict[str, object]
) -> NotationPolicy | None:
    """``notation: {trust_policy, trust_store_dir, registry}`` compiled (None: problems)."""
    registry = f.string(ctx, (*path, "registry"), section.get("registry"))
    policy_text = f.string(ctx, (*path, "trust_policy"), section.get("trust_policy"))
    if policy_text is None or registry is None:
        return None
    source = (ctx.base / policy_text).expanduser().resolve()
    store_dir = source.parent / "truststore"
    if "trust_store_dir" in section:
        text = f.string(ctx, (*path, "trust_store_dir"), section["trust_store_dir"])
        if text is None:
            return None
        store_dir = (ctx.base / text).expanduser().resolve()
    ctx.trust_files.setdefault(source, file_stamp(source))
    try:
        with source.open("rb") as handle:
            data = handle.read(MAX_TRUST_POLICY_BYTES + 1)
    except OSError as exc:
        ctx.problem((*path, "trust_policy"), f"cannot read {policy_text}: {exc.strerror or exc}")
        return None
    problems = _Problems()
    statements = _compile_document(ctx, data, store_dir, problems)
    for line in problems.lines[:20]:
        ctx.problem((*path, "trust_policy"), f"{source}: {line}")
    if problems.lines or statements is None:
        return None
    return NotationPolicy(
        trust_policy=NotationTrustPolicy(registry.rstrip("/"), statements, source)
    )


def _compile_document(
    ctx: Context, data: bytes, store_dir: Path, problems: _Problems
) -> tuple[NotationStatement, ...] | None:
    if len(data) > MAX_TRUST_POLICY_BYTES:
        problems.add("$", f"larger than {MAX_TRUST_POLICY_BYTES} bytes")
        return None
    try:
        doc = json.loads(data, object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        problems.add("$", f"not valid JSON ({str(exc)[:120]})")
        return None
    if not isinstance(doc, dict) or set(doc) - {"version", "trustPolicies"}:
        problems.add("$", "expected an object with only version and trustPolicies")
        return None
    if doc.get("version") != "1.0":
        problems.add("$.version", f'must be "1.0", got {doc.get("version")!r}')
    raw = doc.get("trustPolicies")
    if not isinstance(raw, list) or not raw:
        problems.add("$.trustPolicies", "must be a non-empty list")
        return None
    statements: list[NotationStatement] = []
    names: set[str] = set()
    scopes: dict[str, str] = {}
    for i, item in enumerate(raw):
        where = f"$.trustPolicies[{i}]"
        statement = _statement(ctx, item, where, store_dir, problems)
        if statement is None:
            continue
        if statement.name in names:
            problems.add(f"{where}.name", f"statement name {statement.name!r} is used twice")
        names.add(statement.name)
        for scope in statement.scopes:
            if scope in scopes:
                problems.add(
                    f"{where}.registryScopes",
                    f"{scope!r} is also a scope of statement {scopes[scope]!r}"
                    " (one statement per repository)",
                )
            scopes[scope] = statement.name
        statements.append(statement)
    return tuple(statements)


def _statement(
    ctx: Context, item: object, where: str, store_dir: Path, problems: _Problems
) -> NotationStatement | None:
    if not isinstance(item, dict):
        problems.add(where, "a trust policy statement must be an object")
        return None
    for key in sorted(set(item) - _STATEMENT_KEYS):
        problems.add(f"{where}.{key}", "unknown property")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        problems.add(f"{where}.name", "must be a non-empty string")
        return None
    scopes = _scopes(item.get("registryScopes"), f"{where}.registryScopes", problems)
    verification = item.get("signatureVerification")
    at = f"{where}.signatureVerification"
    if not isinstance(verification, dict):
        problems.add(at, "must be an object with a level")
        return None
    level = verification.get("level")
    if level not in _LEVELS:
        problems.add(f"{at}.level", f"must be one of {', '.join(_LEVELS)}, got {level!r}")
        return None
    for key in sorted(set(verification) - {"level", "override", "verifyTimestamp"}):
        problems.add(f"{at}.{key}", "unknown property")
    verify_timestamp = verification.get("verifyTimestamp", "always")
    if verify_timestamp not in ("always", "afterCertExpiry"):
        problems.add(f"{at}.verifyTimestamp", "must be always or afterCertExpiry")
    overrides = _override(verification.get("override"), f"{at}.override", level, problems)
    stores, identities = item.get("trustStores"), item.get("trustedIdentities")
    if level == "skip":
        if stores or identities:
            problems.add(
                where,
                "level skip must not list trustStores or trustedIdentities (remove them)",
            )
        if scopes == (ANY_IDENTITY,):
            problems.add(f"{where}.registryScopes", "level skip cannot have the global scope")
        return None if scopes is None else NotationStatement(name, scopes, None)
    material = _stores(ctx, stores, f"{where}.trustStores", store_dir, problems)
    trusted = _identities(identities, f"{where}.trustedIdentities", problems)
    if scopes is None or material is None or trusted is None:
        return None
    ca, sa, tsa, tsa_paths = material
    policy = NotationPolicy(
        trusted_identities=trusted,
        level=NotationLevel(level),
        tsa_trust_store=tsa_paths,
        verify_timestamp=str(verify_timestamp),
        overrides=overrides,
        material=notation_trust(ca, sa, tsa),
    )
    return NotationStatement(name, scopes, policy)


def _scopes(value: object, where: str, problems: _Problems) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        problems.add(where, "must be a non-empty list of strings")
        return None
    if ANY_IDENTITY in value:
        if len(value) != 1:
            problems.add(where, "the global scope '*' must be the only scope of its statement")
            return None
        return (ANY_IDENTITY,)
    for i, scope in enumerate(value):
        if "*" in scope or "/" not in scope or scope != scope.strip() or "@" in scope:
            problems.add(
                f"{where}[{i}]",
                f"{scope!r} is not a fully qualified repository (registry/namespace/name)",
            )
            return None
    return tuple(value)


def _override(
    value: object, where: str, level: object, problems: _Problems
) -> tuple[tuple[str, str], ...]:
    """Custom verification level: expiry and authenticTimestamp may be enforced or logged
    (at strict or permissive); revocation is accepted and means nothing here, because
    gatekeeper never checks revocation (README, "Not checked"); authenticity is refused,
    because the level decides whether the statement's signatures count."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.add(where, "must be an object")
        return ()
    if level in ("skip", "audit"):
        problems.add(where, f"level {level} cannot be customized here")
        return ()
    out: list[tuple[str, str]] = []
    for key, setting in value.items():
        if key == "revocation" and setting in ("enforce", "log", "skip"):
            continue
        if key in ("expiry", "authenticTimestamp") and setting in ("enforce", "log"):
            out.append((key, setting))
            continue
        problems.add(
            f"{where}.{key}",
            f"unsupported override {key}: {setting!r} (expiry and authenticTimestamp:"
            " enforce|log; revocation: enforce|log|skip, never checked)",
        )
    return tuple(out)


Material = tuple[
    tuple[x509.Certificate, ...],
    tuple[x509.Certificate, ...],
    tuple[x509.Certificate, ...],
    tuple[Path, ...],
]


def _stores(
    ctx: Context, value: object, where: str, store_dir: Path, problems: _Problems
) -> Material | None:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        problems.add(where, "must be a non-empty list of type:name strings")
        return None
    found: dict[str, list[x509.Certificate]] = {"ca": [], "signingAuthority": [], "tsa": []}
    tsa_paths: list[Path] = []
    ok = True
    for i, entry in enumerate(value):
        kind, sep, name = entry.partition(":")
        if not sep or kind not in _STORE_TYPES or not _STORE_NAME.match(name):
            problems.add(
                f"{where}[{i}]",
                f"{entry!r} is not ca:<name>, signingAuthority:<name> or tsa:<name>",
            )
            ok = False
            continue
        directory = store_dir / "x509" / kind / name
        certs = _read_store(ctx, directory, f"{where}[{i}]", problems)
        if certs is None:
            ok = False
            continue
        found[kind].extend(certs)
        if kind == "tsa":
            tsa_paths.append(directory)
    if ok and not (found["ca"] or found["signingAuthority"]):
        problems.add(where, "needs at least one ca: or signingAuthority: trust store")
        ok = False
    if not ok:
        return None
    return (
        tuple(found["ca"]),
        tuple(found["signingAuthority"]),
        tuple(found["tsa"]),
        tuple(tsa_paths),
    )


def _read_store(
    ctx: Context, directory: Path, where: str, problems: _Problems
) -> list[x509.Certificate] | None:
    """Certificates of one named store: its .pem/.crt/.cer files (sub-directories ignored)."""
    if directory.is_symlink():
        problems.add(where, f"{directory} is a symlink (the specification forbids them)")
        return None
    if not directory.is_dir():
        problems.add(where, f"named store {directory} does not exist")
        return None
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in _CERT_SUFFIXES)
    if len(files) > MAX_STORE_FILES:
        problems.add(where, f"{directory} holds more than {MAX_STORE_FILES} certificate files")
        return None
    certs: list[x509.Certificate] = []
    for file in files:
        if file.is_symlink():
            problems.add(where, f"{file} is a symlink (the specification forbids them)")
            return None
        if not file.is_file():
            continue
        ctx.trust_files.setdefault(file, file_stamp(file))
        try:
            with file.open("rb") as handle:
                data = handle.read(MAX_STORE_FILE_BYTES + 1)
            if len(data) > MAX_STORE_FILE_BYTES:
                raise TrustError(f"{file} is larger than {MAX_STORE_FILE_BYTES} bytes")
            certs.extend(load_certificates(data, str(file)))
        except OSError as exc:
            problems.add(where, f"cannot read {file}: {exc.strerror or exc}")
            return None
        except TrustError as exc:
            problems.add(where, exc.message)
            return None
    if not certs:
        problems.add(where, f"named store {directory} holds no certificate")
        return None
    return certs


def _identities(
    value: object, where: str, problems: _Problems
) -> tuple[TrustedIdentity, ...] | None:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        problems.add(where, "must be a non-empty list of strings")
        return None
    if ANY_IDENTITY in value and len(value) != 1:
        problems.add(where, "'*' must be the only trusted identity when present")
        return None
    identities: list[TrustedIdentity] = []
    for i, text in enumerate(value):
        try:
            identity = parse_identity(text)
        except IdentityError as exc:
            problems.add(f"{where}[{i}]", f"invalid trusted identity {text!r}: {exc}")
            return None
        for earlier in identities:
            if identity.overlaps(earlier):
                problems.add(
                    f"{where}[{i}]",
                    f"{text!r} overlaps {earlier.text!r}: one certificate could match both",
                )
                return None
        identities.append(identity)
    return tuple(identities)

"""Read and parse the key files and trusted roots a ``signatures`` section names.

Trust material is parsed when the policy is compiled (DESIGN.md, style rule 11): a file that
cannot be read, is too large, or is not a usable key or trusted root is a load problem at
its key path, so ``gatekeeper policy check`` and a reload refuse it instead of every pull
failing later. Paths are relative to the policy file. Each file is stamped before it is read
(:mod:`gatekeeper.policy.files`) so the policy store can watch it.
"""

from __future__ import annotations

from pathlib import Path

from gatekeeper.policy import fields as f
from gatekeeper.policy.fields import Context
from gatekeeper.policy.files import file_stamp
from gatekeeper.policy.yamldoc import PathKey
from gatekeeper.trust.errors import TrustError
from gatekeeper.trust.keys import MAX_KEY_FILE_BYTES, TrustedKey, load_public_key
from gatekeeper.trust.trusted_root import (
    MAX_TRUSTED_ROOT_BYTES,
    TrustedRoot,
    load_trusted_root,
    production_trusted_root,
)


def compile_key(ctx: Context, path: PathKey, value: object) -> tuple[Path, TrustedKey] | None:
    """One entry of ``signatures.keys``: its resolved path and the public key it holds."""
    read = read_trust_file(ctx, path, value, MAX_KEY_FILE_BYTES)
    if read is None:
        return None
    resolved, data = read
    try:
        return resolved, load_public_key(data, str(resolved))
    except TrustError as exc:
        ctx.problem(path, exc.message)
        return None


def compile_trusted_root(
    ctx: Context, path: PathKey, value: object
) -> tuple[Path, TrustedRoot] | None:
    """``signatures.trusted_root``: its resolved path and the parsed Sigstore trusted root."""
    read = read_trust_file(ctx, path, value, MAX_TRUSTED_ROOT_BYTES)
    if read is None:
        return None
    resolved, data = read
    try:
        return resolved, load_trusted_root(data, str(resolved))
    except TrustError as exc:
        ctx.problem(path, exc.message)
        return None


def production_root(ctx: Context, path: PathKey) -> TrustedRoot | None:
    """The Sigstore production root bundled with sigstore (read once per process)."""
    try:
        return production_trusted_root()
    except TrustError as exc:
        ctx.problem(path, f"no trusted_root given and {exc.message}")
        return None


def read_trust_file(
    ctx: Context, path: PathKey, value: object, limit: int
) -> tuple[Path, bytes] | None:
    """Resolve, stamp (for the policy store's watcher) and read one trust file (bounded)."""
    text = f.string(ctx, path, value)
    if text is None:
        return None
    resolved = (ctx.base / text).resolve()
    # The earliest stamp wins when several rules name one file: a change after it is seen.
    ctx.trust_files.setdefault(resolved, file_stamp(resolved))
    try:
        with resolved.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        ctx.problem(path, f"cannot read {text} ({resolved}): {exc.strerror or exc}")
        return None
    if len(data) > limit:
        ctx.problem(path, f"{text} ({resolved}) is larger than {limit} bytes")
        return None
    return resolved, data

"""The policy fingerprint: sha256 over a canonical form of the COMPILED policy.

Admission records are keyed by it (:mod:`gatekeeper.state.admissions`): blobs of an image
admitted under one fingerprint stay open while it holds. So it must change with everything
that can change a decision and with nothing else. Over source bytes it changed with every
comment, and the blobs of pulls in progress answered 403 after a cosmetic edit.

What counts: the mode, the rules in order with every field of every section (globs and
regex patterns as written, durations, sizes, dates, enums) and, for signatures, the parsed
trust material (key ids, sorted, and the trusted root's sha256; Notation trust store
certificates) instead of file names.
What does not: comments, formatting, key order in a mapping, which file a rule came from
and on which line (fields marked ``NOT_FINGERPRINTED`` in :mod:`gatekeeper.policy.model`).
The walk is generic over the frozen dataclasses, so a field added later counts unless it is
marked; a value of a type not listed here fails loudly rather than being skipped.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from dataclasses import fields, is_dataclass
from datetime import date, timedelta
from pathlib import Path

from gatekeeper.policy.model import Mode, Rule
from gatekeeper.trust.material import TrustMaterial
from gatekeeper.trust.notation.store import NotationTrust

_VERSION = "gatekeeper policy fingerprint v2"  # v1 hashed the source bytes

Canonical = None | bool | int | str | list["Canonical"] | dict[str, "Canonical"]


def policy_fingerprint(mode: Mode, rules: tuple[Rule, ...]) -> str:
    """``sha256:<hex>`` over the canonical form of ``mode`` and ``rules``."""
    document = {"version": _VERSION, "mode": canonical(mode), "rules": canonical(rules)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def canonical(value: object) -> Canonical:
    """``value`` as plain JSON data that two equal compiled policies share."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if isinstance(value, re.Pattern):
        return {"regex": str(value.pattern), "flags": int(value.flags)}
    if isinstance(value, timedelta):
        return {"microseconds": value // timedelta(microseconds=1)}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Path):
        return {"path": str(value)}
    if isinstance(value, TrustMaterial):
        key_ids = sorted(key.key_id for key in value.keys)  # order and repeats mean nothing
        return {"keys": canonical(key_ids), "trusted_root": value.root.sha256}
    if isinstance(value, NotationTrust):
        return {"notation_trust": value.fingerprint}  # certificates, not file names
    if isinstance(value, tuple | list):
        return [canonical(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Canonical] = {"type": type(value).__name__}
        for item in fields(value):
            if item.metadata.get("fingerprint", True):
                out[item.name] = canonical(getattr(value, item.name))
        return out
    raise TypeError(f"the policy fingerprint has no canonical form for {type(value).__name__}")

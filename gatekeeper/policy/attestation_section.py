"""Compile a rule's ``attestations`` list, CEL conditions included.

``attestations: [{name, predicate_type, signers: {keys|keyless, …}, conditions: [CEL]}]``.
``signers`` is compiled by :func:`gatekeeper.policy.sections.compile_signatures` (trust
material parsed now); ``threshold`` is refused there, since one trusted signature makes a
statement count. Each condition is compiled here (:mod:`gatekeeper.policy.cel`), so a bad
expression is a load problem at its own line.
"""

from __future__ import annotations

from gatekeeper.policy import fields as f
from gatekeeper.policy.attestation_model import (
    MAX_ATTESTATIONS,
    MAX_CONDITIONS,
    AttestationRequirement,
)
from gatekeeper.policy.cel import Condition, ConditionError, compile_condition
from gatekeeper.policy.fields import Context
from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.policy.sections import compile_signatures
from gatekeeper.policy.yamldoc import PathKey

ATTESTATION_KEYS = ("name", "predicate_type", "signers", "conditions")


def compile_attestations(
    ctx: Context, path: PathKey, value: object
) -> tuple[AttestationRequirement, ...] | None:
    """Every entry of ``attestations``; names must be unique within the rule."""
    if isinstance(value, list) and len(value) > MAX_ATTESTATIONS:
        ctx.problem(path, f"at most {MAX_ATTESTATIONS} attestation requirements per rule")
    compiled = f.each(ctx, path, value, _requirement)
    seen: set[str] = set()
    for index, requirement in enumerate(compiled):
        if requirement.name in seen:
            ctx.problem((*path, index, "name"), f"duplicate attestation name {requirement.name!r}")
        seen.add(requirement.name)
    return compiled or None


def _requirement(ctx: Context, path: PathKey, value: object) -> AttestationRequirement | None:
    entry = f.mapping(
        ctx, path, value, ATTESTATION_KEYS, required=("name", "predicate_type", "signers")
    )
    if entry is None:
        return None
    name = f.string(ctx, (*path, "name"), entry["name"]) if "name" in entry else None
    predicate_type = None
    if "predicate_type" in entry:
        predicate_type = f.string(ctx, (*path, "predicate_type"), entry["predicate_type"])
    signers = None
    if "signers" in entry:
        signers = compile_signers(ctx, (*path, "signers"), entry["signers"])
    conditions: tuple[Condition, ...] = ()
    if "conditions" in entry:
        raw_conditions = entry["conditions"]
        if isinstance(raw_conditions, list) and len(raw_conditions) > MAX_CONDITIONS:
            ctx.problem((*path, "conditions"), f"at most {MAX_CONDITIONS} conditions")
        conditions = f.each(ctx, (*path, "conditions"), raw_conditions, _condition)
    if name is None or predicate_type is None or signers is None:
        return None
    document = ctx.reporter.document
    return AttestationRequirement(
        name, predicate_type, signers, conditions, f"{document.file}:{document.line(path)}"
    )


def compile_signers(ctx: Context, path: PathKey, value: object) -> SignaturePolicy | None:
    """``signers`` of an attestation or of ``scan.vex``: a signatures section without
    ``threshold`` (one trusted signature makes a statement count)."""
    if isinstance(value, dict) and "threshold" in value:
        ctx.problem(
            (*path, "threshold"),
            "an attestation counts with one trusted signature: threshold applies to"
            " signatures only",
        )
        value = {key: item for key, item in value.items() if key != "threshold"}
    return compile_signatures(ctx, path, value)


def _condition(ctx: Context, path: PathKey, value: object) -> Condition | None:
    text = f.string(ctx, path, value)
    if text is None:
        return None
    document = ctx.reporter.document
    try:
        return compile_condition(text, f"{document.file}:{document.line(path)}")
    except ConditionError as exc:
        ctx.problem(path, str(exc))
        return None

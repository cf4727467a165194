"""Compile ``scan.vex: {signers: {keys|keyless, trusted_root, transparency_log}}``."""

from __future__ import annotations

from gatekeeper.policy import fields as f
from gatekeeper.policy.attestation_section import compile_signers
from gatekeeper.policy.fields import Context
from gatekeeper.policy.vex_model import VexPolicy
from gatekeeper.policy.yamldoc import PathKey

VEX_KEYS = ("signers",)


def compile_vex(ctx: Context, path: PathKey, value: object) -> VexPolicy | None:
    """Whose signed OpenVEX statements may answer findings; trust material parsed now."""
    section = f.mapping(ctx, path, value, VEX_KEYS, required=VEX_KEYS)
    if section is None or "signers" not in section:
        return None
    signers = compile_signers(ctx, (*path, "signers"), section["signers"])
    return None if signers is None else VexPolicy(signers)

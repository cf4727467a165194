"""``gatekeeper lint REF``: every image check at its default, without a policy.

For pipelines, after a push to a staging repository and before promotion: the image's
config is read from the registry with gatekeeper's own credentials and judged by the same
``admit_manifest`` a pull goes through, under a built-in policy of one rule. Checks that need
an organisation's own values (``trusted_bases``, ``required_labels``, ``max_age``,
``max_size``) are left to a policy and ``gatekeeper evaluate``.

Exit codes: 0 clean, 1 findings, 2 the image could not be checked (not found, unreadable
config, not an image manifest).
"""

from __future__ import annotations

import json

from gatekeeper.admission.admit import Admission
from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.config import Settings
from gatekeeper.errors import GatekeeperError
from gatekeeper.evaluate import Reference, evaluate
from gatekeeper.policy.fingerprint import policy_fingerprint
from gatekeeper.policy.globs import compile_repository_glob
from gatekeeper.policy.model import ImagePolicy, Mode, Outcome, Policy, Rule

# moby's layer store refuses to chain more layers than this (layer/layer_store.go
# maxLayerDepth: graphdrivers' 127 lower directories less the two of a container's rw layer).
DEFAULT_MAX_LAYERS = 125
LINT_IMAGE = ImagePolicy(
    user="non-root",
    forbid_secrets_in_env=True,
    forbid_secrets_in_labels=True,
    require_healthcheck=True,
    forbid_add_from_url=True,
    max_layers=DEFAULT_MAX_LAYERS,
)
RULE_NAME = "lint"
# Refusals that say the image could not be checked, not what is wrong with it.
_NOT_CHECKED = frozenset({"evidence-unavailable", "manifest-invalid", "internal-error"})


class LintError(GatekeeperError):
    code = "LINT_FAILED"


def lint_policy() -> Policy:
    """One rule for every repository: the image checks at their defaults."""
    rules = (Rule(RULE_NAME, ("**",), (compile_repository_glob("**"),), image=LINT_IMAGE),)
    fingerprint = policy_fingerprint(Mode.ENFORCE, rules)
    return Policy(Mode.ENFORCE, rules, fingerprint, sources=("gatekeeper lint defaults",))


async def lint(settings: Settings, ref: Reference) -> Admission:
    """Judge ``ref`` by :data:`LINT_IMAGE`; raises :class:`LintError` when it cannot."""
    policies = PolicyStore((), lambda _paths: lint_policy(), dry_run=False)
    admission = await evaluate(settings, ref, policies)
    codes = set(admission.decision.codes)
    if codes & _NOT_CHECKED:
        raise LintError(
            f"{ref.repository}:{ref.reference} could not be checked: "
            + "; ".join(admission.decision.reasons)
        )
    return admission


def render(admission: Admission, as_json: bool) -> str:
    """The findings (each a reason code and the reason), or that the image is clean."""
    decision = admission.decision
    request = admission.request
    clean = decision.outcome is Outcome.ALLOW
    if as_json:
        return json.dumps(
            {
                "repository": request.repository,
                "reference": request.reference,
                "digest": request.digest,
                "clean": clean,
                "reasons": [] if clean else list(decision.reasons),
                "hints": list(decision.hints),
                "codes": list(decision.codes),
                "notes": list(decision.reasons) if clean else [],
            },
            indent=2,
        )
    separator = "@" if ":" in request.reference else ":"
    name = f"{request.repository}{separator}{request.reference}"
    if clean:
        return f"CLEAN {name}\n  digest: {request.digest}"
    lines = [f"FINDINGS {name}", f"  digest: {request.digest}"]
    lines += [f"  reason: {reason}" for reason in decision.reasons]
    lines += [f"  fix:    {hint}" for hint in decision.hints]
    return "\n".join(lines)


def exit_code(admission: Admission) -> int:
    """0 clean, 1 findings (errors were raised before)."""
    return 0 if admission.decision.outcome is Outcome.ALLOW else 1

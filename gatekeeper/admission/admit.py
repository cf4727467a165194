"""Turn manifest bytes into a Decision: parse, match, gather evidence, decide.

Used by the pull and push handlers and by ``gatekeeper evaluate``; it never touches the
client connection, so every caller gets the same decision for the same bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gatekeeper.admission.deps import Deps
from gatekeeper.admission.evidence import Subject, gather
from gatekeeper.errors import GatekeeperError
from gatekeeper.oci.manifest import Manifest
from gatekeeper.policy.artifacts import artifact_subject
from gatekeeper.policy.decide import decide
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import AdmissionRequest, Evidence
from gatekeeper.policy.model import Action, Outcome, Policy, Rule
from gatekeeper.upstream.client import Upstream

log = logging.getLogger("gatekeeper.admission")


@dataclass(frozen=True, slots=True)
class Admission:
    request: AdmissionRequest
    decision: Decision
    manifest: Manifest | None  # None when the bytes could not be parsed
    policy: Policy


async def admit(
    deps: Deps,
    action: Action,
    repository: str,
    reference: str,
    digest: str,
    body: bytes,
    content_type: str | None,
    *,
    current_tag_digest: str | None = None,
    source: tuple[Upstream, str] | None = None,
) -> Admission:
    """Decide on one manifest. Any error while deciding becomes a deny decision."""
    policy = deps.policies.current
    rule = policy.match(repository)
    tag = None if ":" in reference else reference
    try:
        manifest = deps.manifests.parse(digest, body, content_type)
    except GatekeeperError as exc:
        request = AdmissionRequest(
            action, repository, reference, digest, content_type or "", deps.clock()
        )
        reason = f"manifest cannot be checked: {exc.message}"
        hint = "push a valid OCI or Docker v2 manifest"
        return Admission(request, _cannot_decide(policy, rule, reason, hint), None, policy)
    request = AdmissionRequest(
        action=action,
        repository=repository,
        reference=reference,
        digest=digest,
        media_type=manifest.media_type,
        now=deps.clock(),
        subject=artifact_subject(manifest, tag),
        current_tag_digest=current_tag_digest,
    )
    if (
        action is Action.PULL
        and tag is None
        and await deps.admissions.admitted(repository, digest, policy.fingerprint)
    ):
        return Admission(request, _inherited(policy, rule), manifest, policy)
    evidence = Evidence()
    if rule is not None and action is Action.PULL and request.subject is None:
        upstream, name = source or (deps.upstream, repository)
        subject = Subject(repository, digest, manifest, body, upstream, name)
        evidence = await gather(rule, subject, deps.gatherers)
    try:
        decision = decide(policy, request, evidence)
    except Exception as exc:  # a bug in a check must refuse, not answer 500 (fail closed)
        log.exception("deciding %s@%s failed", repository, digest)
        decision = _cannot_decide(policy, rule, f"internal error while deciding ({exc!r:.100})")
    return Admission(request, decision, manifest, policy)


async def record(deps: Deps, admission: Admission) -> None:
    """Open the blobs and child manifests of an allowed pull for a bounded time."""
    if admission.decision.outcome is not Outcome.ALLOW or admission.manifest is None:
        return
    manifest = admission.manifest
    digests = manifest.blob_digests | manifest.child_digests
    if digests:
        await deps.admissions.admit(
            admission.request.repository, digests, admission.policy.fingerprint
        )


def _cannot_decide(policy: Policy, rule: Rule | None, reason: str, *hints: str) -> Decision:
    return Decision(
        Outcome.DENY, rule.name if rule else None, policy.mode_for(rule), (reason,), hints
    )


def _inherited(policy: Policy, rule: Rule | None) -> Decision:
    return Decision(
        Outcome.ALLOW,
        rule.name if rule else None,
        policy.mode_for(rule),
        ("admitted as a child of an index admitted earlier",),
    )

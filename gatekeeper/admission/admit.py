"""Gather the facts a request's decision needs, then ask the pure core.

Every request kind comes through here: :func:`admit_manifest` for manifest pulls and
pushes (parse, classify, look up inheritance, gather evidence), :func:`admit_request`
for everything else (look up admission records where the decision reads them). Both end
in :func:`gatekeeper.policy.decide.decide`; nothing here decides by itself. Used by the
server and by ``gatekeeper evaluate``; it never touches a client connection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from gatekeeper.admission.deps import Deps
from gatekeeper.admission.evidence import Subject, gather
from gatekeeper.errors import GatekeeperError
from gatekeeper.oci.manifest import Manifest
from gatekeeper.policy.artifacts import (
    ManifestClass,
    artifact_subject,
    artifact_tag_subject,
    classify,
)
from gatekeeper.policy.checks import refuse
from gatekeeper.policy.decide import decide, decide_repository, gates_blobs
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import AdmissionRequest, Evidence
from gatekeeper.policy.model import Action, EvidenceKind, Outcome, Policy, Rule
from gatekeeper.upstream.client import Upstream

log = logging.getLogger("gatekeeper.admission")

_INHERITED_KINDS = frozenset({EvidenceKind.SCAN, EvidenceKind.IMAGE})


@dataclass(frozen=True, slots=True)
class Admission:
    request: AdmissionRequest
    decision: Decision
    manifest: Manifest | None  # pull/push: None when the bytes could not be parsed
    policy: Policy
    evidence: Evidence = field(default_factory=Evidence)  # what was gathered (explain)


def gate_repository(deps: Deps, action: Action, repository: str, reference: str) -> Admission:
    """The repository-level decision, asked before anything is fetched from the upstream.

    A denied repository (or one no rule matches) then answers alike for content that
    exists and content that does not. The returned decision allows when the repository's
    rule admits requests; the request itself is decided later, with its facts.
    """
    policy = deps.policies.current
    request = AdmissionRequest(action, repository, reference, now=deps.clock())
    decision = decide_repository(policy, repository)
    if decision is None:
        rule = policy.match(repository)
        name = rule.name if rule else None
        decision = Decision(Outcome.ALLOW, name, policy.mode_for(rule))
    return Admission(request, decision, None, policy)


async def admit_request(
    deps: Deps, action: Action, repository: str, reference: str = "", digest: str = ""
) -> Admission:
    """Decide a request that carries no manifest (blobs, mounts, uploads, deletes, lists)."""
    policy = deps.policies.current
    opened = False
    if action in (Action.READ_BLOB, Action.MOUNT) and gates_blobs(policy, policy.match(repository)):
        opened = await deps.admissions.blob_opened(repository, digest, policy.fingerprint)
    request = AdmissionRequest(
        action, repository, reference, digest, now=deps.clock(), opened=opened
    )
    return Admission(request, _decide(policy, request, Evidence()), None, policy)


async def admit_manifest(
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
    """Decide on one manifest's bytes. Any error while deciding becomes a deny decision."""
    policy = deps.policies.current
    rule = policy.match(repository)
    tag = None if ":" in reference else reference
    base = AdmissionRequest(
        action,
        repository,
        reference,
        digest,
        content_type or "",
        deps.clock(),
        current_tag_digest=current_tag_digest,
    )
    try:
        manifest = deps.manifests.parse(digest, body, content_type)
    except GatekeeperError as exc:
        request = AdmissionRequest(
            action, repository, reference, digest, content_type or "", base.now, problem=exc.message
        )
        return Admission(request, _decide(policy, request, Evidence()), None, policy)
    kind = classify(manifest, tag)
    inherited_from = None
    if action is Action.PULL and tag is None and not kind.is_artifact and gates_blobs(policy, rule):
        inherited_from = await deps.admissions.parent_of(repository, digest, policy.fingerprint)
    request = AdmissionRequest(
        action,
        repository,
        reference,
        digest,
        manifest.media_type,
        base.now,
        manifest_class=kind,
        subject=artifact_subject(manifest, tag),
        current_tag_digest=current_tag_digest,
        inherited_from=inherited_from,
    )
    evidence = Evidence()
    if rule is not None and _needs_evidence(request):
        # An inherited child keeps its index's signature; its own verdict and config count.
        kinds = _INHERITED_KINDS if inherited_from is not None else None
        upstream, name = source or (deps.upstream, repository)
        subject = Subject(repository, digest, manifest, body, upstream, name)
        evidence = await gather(rule, subject, deps.gatherers, kinds)
    return Admission(request, _decide(policy, request, evidence), manifest, policy, evidence)


def _needs_evidence(request: AdmissionRequest) -> bool:
    """Evidence is read for images and image indexes pulled under an ordinary tag or digest."""
    kind = request.manifest_class
    return (
        request.action is Action.PULL
        and kind is not None
        and not kind.is_artifact
        and artifact_tag_subject(request.tag) is None
    )


async def record(deps: Deps, admission: Admission) -> None:
    """What an allowed pull opens for the requests that follow it.

    An image or artifact opens its own blobs; an image index lets the manifests it lists
    inherit its signature; an artifact index opens nothing (each child stands alone).
    """
    request = admission.request
    manifest = admission.manifest
    if (
        admission.decision.outcome is not Outcome.ALLOW
        or manifest is None
        or request.action is not Action.PULL
        # Only where blob reads consult them: a permissive repository writes none, so
        # pulls there cannot crowd out other repositories' records (issue 10, finding 5).
        or not gates_blobs(admission.policy, admission.policy.match(request.repository))
    ):
        return
    fingerprint = admission.policy.fingerprint
    kind = request.manifest_class
    if kind in (ManifestClass.IMAGE, ManifestClass.ARTIFACT) and manifest.blob_digests:
        await deps.admissions.open_blobs(request.repository, manifest.blob_digests, fingerprint)
    elif kind is ManifestClass.INDEX and manifest.child_digests:
        await deps.admissions.open_children(
            request.repository, request.digest, manifest.child_digests, fingerprint
        )


def _decide(policy: Policy, request: AdmissionRequest, evidence: Evidence) -> Decision:
    try:
        return decide(policy, request, evidence)
    except Exception as exc:  # a bug in a check must refuse, not answer 500 (fail closed)
        log.exception(
            "deciding %s %s@%s failed",
            request.action.value,
            request.repository,
            request.digest or request.reference,
        )
        rule = policy.match(request.repository)
        return _internal_error(
            policy, rule, f"internal error while deciding ({type(exc).__name__})"
        )


def _internal_error(policy: Policy, rule: Rule | None, reason: str) -> Decision:
    result = refuse(reason, "report this to gatekeeper's maintainers", code="internal-error")
    refusal = result.refusals[0]
    return Decision(
        Outcome.DENY,
        rule.name if rule else None,
        policy.mode_for(rule),
        (refusal.reason,),
        refusal.hints,
        (refusal.code,),
    )

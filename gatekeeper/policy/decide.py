"""``decide()``: the pure decision core, for every request kind. Facts in, Decision out.

There is no other place where gatekeeper decides: the server asks this function about
manifest pulls and pushes, blob reads, mounts, uploads, deletes, tag lists, referrers and
catalog entries alike. Exemptions are inputs here, never shortcuts around it: an artifact,
an index child, an unparseable manifest and a denied repository are facts on the request.

The order of questions: which rule matches (none: deny); is it a deny rule; then what the
action asks. For manifests: can the bytes be checked at all; what they are (an image, an
index, or an artifact: see :mod:`gatekeeper.policy.artifacts`); do the tag rules pass; on
pull, does the evidence pass (an index child inherits only its index's signature and
image checks; its own scan verdict still counts). Every failing check is reported, not
only the first, each with a hint and a stable reason code.
"""

from __future__ import annotations

from dataclasses import replace

from gatekeeper.policy.artifacts import artifact_tag_subject
from gatekeeper.policy.checks import PASS, CheckResult, note, refuse
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import AdmissionRequest, Evidence
from gatekeeper.policy.evidence_checks import check_evidence
from gatekeeper.policy.model import Action, EvidenceKind, Outcome, Policy, Rule, RuleAction
from gatekeeper.policy.tag_checks import check_tags

_NO_EVIDENCE = Evidence()


def decide(
    policy: Policy, request: AdmissionRequest, evidence: Evidence = _NO_EVIDENCE
) -> Decision:
    """Decide one request under ``policy``."""
    rule = policy.match(request.repository)
    blocked = _repository_gate(policy, rule, request.repository)
    if blocked is not None:
        return blocked
    assert rule is not None  # _repository_gate refused every repository without a rule
    action = request.action
    if action.is_manifest:
        result = _manifest(rule, request, evidence)
    elif action is Action.DELETE:
        result = _delete_manifest(rule, request)
    elif action in (Action.READ_BLOB, Action.MOUNT):
        result = _blob_read(policy, rule, request)
    else:
        # Uploads, blob HEAD and DELETE, tag lists, referrers and catalog entries carry no
        # image content: the repository gate above is their whole rule.
        result = PASS
    return _decision(policy, rule, result)


def decide_repository(policy: Policy, repository: str) -> Decision | None:
    """A DENY decision when the repository itself is off-limits (no rule, or a deny rule).

    Asked before anything is fetched from the upstream, so a denied repository answers
    the same for content that exists and content that does not. None when its rule admits
    requests (then :func:`decide` is asked about the request itself).
    """
    return _repository_gate(policy, policy.match(repository), repository)


def gates_blobs(policy: Policy, rule: Rule | None) -> bool:
    """True when blob reads under ``rule`` depend on admission records.

    Lets callers skip the record lookup (I/O) where :func:`decide` would not read it; the
    decision itself is still made by :func:`decide`.
    """
    return rule is not None and rule.action is RuleAction.ALLOW and not rule.admits_everything


def _repository_gate(policy: Policy, rule: Rule | None, repository: str) -> Decision | None:
    if rule is None:
        result = refuse(
            f"no policy rule matches repository {repository}",
            f"add a rule for {repository} to the policy",
            code="no-rule",
        )
        return _decision(policy, None, result)
    if rule.action is RuleAction.DENY:
        result = refuse(
            f"repository {repository} is denied by rule '{rule.name}'",
            f"ask the policy owners for a rule admitting {repository} before '{rule.name}'",
            code="repository-denied",
        )
        return _decision(policy, rule, result)
    return None


def _manifest(rule: Rule, request: AdmissionRequest, evidence: Evidence) -> CheckResult:
    if request.problem is not None or request.manifest_class is None:
        return refuse(
            f"manifest cannot be checked: {request.problem or 'not parsed'}",
            "push a valid OCI or Docker v2 manifest",
            code="manifest-invalid",
        )
    kind = request.manifest_class
    if artifact_tag_subject(request.tag) is not None:
        # sha256-<hex>[.sig|.att|.sbom] tags belong to cosign and the referrers fallback:
        # tag rules written for images do not apply to them, so they may hold only what an
        # engine cannot run.
        if not kind.is_artifact:
            return refuse(
                f"tag '{request.tag}' is reserved for signatures, attestations and referrer"
                " indexes, but this manifest has image filesystem layers",
                "push images under an ordinary tag; attach artifacts with cosign or oras",
                code="artifact-tag-runnable",
            )
        return note(f"{kind.value} under artifact tag {request.tag}: not runnable")
    result = check_tags(rule.tags, request)
    if kind.is_artifact:
        about = f" attached to {request.subject}" if request.subject else ""
        return result + note(
            f"{kind.value}{about}: not runnable, so evidence checks apply to images only"
        )
    if request.action is Action.PUSH:
        if rule.needs:
            # At push time nothing can have signed or scanned these bytes yet.
            kinds = ", ".join(kind.value for kind in EvidenceKind if kind in rule.needs)
            result += note(f"{kinds} checks run on pull, not on push")
        return result
    if request.inherited_from is not None:
        return result + _inherited(rule, request, evidence)
    return result + check_evidence(rule, request, evidence)


def _inherited(rule: Rule, request: AdmissionRequest, evidence: Evidence) -> CheckResult:
    """A child pulled by digest after its index passed this rule.

    The index's signature covers the digests it lists, so signatures are inherited, and
    so are attestations (a statement about the index covers what it lists).
    Nothing else is: a vulnerability verdict about the child itself still counts, and its
    image config is checked again (an index may list children it was not image-checked
    through, such as ``unknown/unknown`` attestation entries), all but its trusted base:
    the index's base check read every platform's label, or the index's signed provenance.
    """
    parent = request.inherited_from
    result = note(f"listed by index {parent}, admitted earlier: its signature covers this")
    if rule.image is not None:
        if rule.image.trusted_bases:
            # The index's base check covered every platform it lists (their common label,
            # or the index's signed provenance, which is not gathered for a child again).
            rule = replace(rule, image=replace(rule.image, trusted_bases=()))
            result += note(f"trusted base: judged with index {parent}")
        result += _own(rule, request, evidence, EvidenceKind.IMAGE)
    if rule.scan is None:
        return result
    if evidence.scan is not None and evidence.scan.verdict is None:
        return result + note(f"no verdict of its own: index {parent}'s verdict passed")
    return result + _own(rule, request, evidence, EvidenceKind.SCAN)


def _own(
    rule: Rule, request: AdmissionRequest, evidence: Evidence, kind: EvidenceKind
) -> CheckResult:
    """The evidence check of one ``kind``, as :func:`check_evidence` makes it."""
    if kind is EvidenceKind.IMAGE:
        only = replace(rule, signatures=None, scan=None, attestations=())
    else:
        only = replace(rule, signatures=None, image=None, attestations=())
    return check_evidence(only, request, evidence)


def _delete_manifest(rule: Rule, request: AdmissionRequest) -> CheckResult:
    if not rule.tags.immutable:
        return PASS
    # Deleting the manifest a tag points to, then pushing the tag again, moves the tag.
    return refuse(
        f"tags in {request.repository} are immutable: deleting manifests would let a tag move",
        "ask the registry's operators to delete it, or relax the rule's tags.immutable",
        code="tag-immutable",
    )


def _blob_read(policy: Policy, rule: Rule, request: AdmissionRequest) -> CheckResult:
    if not gates_blobs(policy, rule) or request.opened:
        return PASS
    if request.action is Action.MOUNT:
        return refuse(
            f"mount of {request.digest} from {request.repository}: it is not part of an"
            f" image admitted in {request.repository}",
            f"pull the image from {request.repository} through gatekeeper first, or upload"
            " the blob",
            code="mount-source",
        )
    return refuse(
        f"blob {request.digest} is not part of an image admitted in {request.repository}",
        "pull the image's manifest through gatekeeper first",
        code="blob-not-admitted",
    )


def _decision(policy: Policy, rule: Rule | None, result: CheckResult) -> Decision:
    mode = policy.mode_for(rule)
    name = None if rule is None else rule.name
    warnings = tuple(dict.fromkeys(result.warnings))
    if not result.refusals:
        return Decision(Outcome.ALLOW, name, mode, result.notes, warnings=warnings)
    reasons = tuple(dict.fromkeys(refusal.reason for refusal in result.refusals))
    hints = tuple(dict.fromkeys(hint for refusal in result.refusals for hint in refusal.hints))
    codes = tuple(dict.fromkeys(refusal.code for refusal in result.refusals))
    return Decision(Outcome.DENY, name, mode, reasons, hints, codes, warnings)

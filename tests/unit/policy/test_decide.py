"""decide(): rule matching, tag rules, artifacts, modes and every evidence check."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from gatekeeper.policy.artifacts import ManifestClass
from gatekeeper.policy.decide import decide
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import (
    AdmissionRequest,
    Evidence,
    Finding,
    ImageFacts,
    ScanEvidence,
    ScanVerdict,
    SignatureEvidence,
)
from gatekeeper.policy.globs import compile_repository_glob
from gatekeeper.policy.model import (
    Action,
    IgnoredVulnerability,
    ImagePolicy,
    Mode,
    Outcome,
    Policy,
    Rule,
    RuleAction,
    ScanPolicy,
    SignaturePolicy,
    TagPolicy,
)

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PIN_HINT = f"pin by digest (team/app@{DIGEST}) or an exact version tag"
SIGN_HINT = f"sign team/app@{DIGEST} with a key or identity the policy trusts"
SCAN_HINT = f"scan team/app@{DIGEST} and publish the verdict where gatekeeper looks for it"
FIX_HINT = (
    "upgrade the affected packages and rebuild, or add a reviewed scan.ignore entry"
    " with a reason and an until date"
)
MISSING_HINT = (
    "gatekeeper fails closed when it cannot gather evidence: check its log and the"
    " upstream registry, then retry"
)


def rule(name: str, *globs: str, **fields: object) -> Rule:
    matchers = tuple(compile_repository_glob(glob) for glob in globs)
    return Rule(name, globs, matchers, **fields)  # type: ignore[arg-type]


def policy(*rules: Rule, mode: Mode = Mode.ENFORCE) -> Policy:
    return Policy(mode, rules, "sha256:test")


def request(
    reference: str = "v1.2.3",
    *,
    action: Action = Action.PULL,
    repository: str = "team/app",
    subject: str | None = None,
    current: str | None = None,
    kind: ManifestClass = ManifestClass.IMAGE,
    inherited_from: str | None = None,
) -> AdmissionRequest:
    return AdmissionRequest(
        action=action,
        repository=repository,
        reference=reference,
        digest=DIGEST,
        media_type="application/vnd.oci.image.manifest.v1+json",
        now=NOW,
        subject=subject,
        current_tag_digest=current,
        manifest_class=kind,
        inherited_from=inherited_from,
    )


def summary(decision: Decision) -> tuple[Outcome, str | None, tuple[str, ...]]:
    return decision.outcome, decision.rule, decision.reasons


# ---------------------------------------------------------------- matching

EXAMPLE = policy(
    rule("team-apps", "team/**", tags=TagPolicy(deny=("latest",))),
    rule("official", "library/*"),
    rule("team-archive", "team/archive"),  # shadowed: team/** comes first
    rule("default-deny", "**", action=RuleAction.DENY),
)

MATCHING = [
    ("team/app", "team-apps", Outcome.ALLOW, ()),
    ("team/a/b", "team-apps", Outcome.ALLOW, ()),
    ("team/archive", "team-apps", Outcome.ALLOW, ()),
    ("library/alpine", "official", Outcome.ALLOW, ()),
    (
        "library/a/b",
        "default-deny",
        Outcome.DENY,
        ("repository library/a/b is denied by rule 'default-deny'",),
    ),
    ("other", "default-deny", Outcome.DENY, ("repository other is denied by rule 'default-deny'",)),
]


@pytest.mark.parametrize(
    ("repository", "rule_name", "outcome", "reasons"), MATCHING, ids=[m[0] for m in MATCHING]
)
def test_first_matching_rule_decides(
    repository: str, rule_name: str, outcome: Outcome, reasons: tuple[str, ...]
) -> None:
    decision = decide(EXAMPLE, request(repository=repository), Evidence())
    assert summary(decision) == (outcome, rule_name, reasons)


def test_deny_rule_hint_names_the_rule() -> None:
    decision = decide(EXAMPLE, request(repository="other"), Evidence())
    assert decision.hints == (
        "ask the policy owners for a rule admitting other before 'default-deny'",
    )


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_no_matching_rule_denies(action: Action) -> None:
    only_team = policy(rule("team", "team/*"), mode=Mode.DRY_RUN)
    decision = decide(only_team, request(repository="other/x", action=action), Evidence())
    assert decision == Decision(
        Outcome.DENY,
        None,
        Mode.DRY_RUN,
        ("no policy rule matches repository other/x",),
        ("add a rule for other/x to the policy",),
        ("no-rule",),
    )


# ---------------------------------------------------------------- tags

SEMVER = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+$")
DENY_LATEST = "tag 'latest' is not allowed (denied by pattern 'latest')"
TAGS = [
    # (id, tags, action, reference, current tag digest, reasons, hints)
    ("no-rules", TagPolicy(), Action.PULL, "latest", None, (), ()),
    (
        "deny-latest",
        TagPolicy(deny=("latest",)),
        Action.PULL,
        "latest",
        None,
        (DENY_LATEST,),
        (PIN_HINT,),
    ),
    (
        "deny-case-insensitive",
        TagPolicy(deny=("latest",)),
        Action.PULL,
        "LaTeSt",
        None,
        ("tag 'LaTeSt' is not allowed (denied by pattern 'latest')",),
        (PIN_HINT,),
    ),
    (
        "deny-glob",
        TagPolicy(deny=("latest", "*-dev")),
        Action.PULL,
        "1.2-dev",
        None,
        ("tag '1.2-dev' is not allowed (denied by pattern '*-dev')",),
        (PIN_HINT,),
    ),
    ("deny-other-tag", TagPolicy(deny=("latest",)), Action.PULL, "v1.2.3", None, (), ()),
    ("allow-match", TagPolicy(allow=(SEMVER,)), Action.PULL, "v1.2.3", None, (), ()),
    (
        "allow-no-match",
        TagPolicy(allow=(SEMVER, re.compile("^stable$"))),
        Action.PULL,
        "main",
        None,
        (r"tag 'main' matches none of the allowed patterns ^v?[0-9]+\.[0-9]+\.[0-9]+$, ^stable$",),
        (PIN_HINT,),
    ),
    (
        "allow-is-search",
        TagPolicy(allow=(re.compile("stable"),)),
        Action.PULL,
        "1-stable-2",
        None,
        (),
        (),
    ),
    (
        "deny-pattern-makes-allow-list-reason-redundant",
        TagPolicy(deny=("latest",), allow=(SEMVER,)),
        Action.PULL,
        "latest",
        None,
        (DENY_LATEST,),
        (PIN_HINT,),
    ),
    (
        "require-digest",
        TagPolicy(require_digest=True),
        Action.PULL,
        "v1.2.3",
        None,
        ("pull by tag is not allowed; pin by digest",),
        (f"pull team/app@{DIGEST} instead",),
    ),
    (
        "digest-pull-is-pinned",
        TagPolicy(require_digest=True, deny=("*",)),
        Action.PULL,
        DIGEST,
        None,
        (),
        (),
    ),
    (
        "require-digest-not-on-push",
        TagPolicy(require_digest=True),
        Action.PUSH,
        "v1.2.3",
        None,
        (),
        (),
    ),
    (
        "push-denied-tag",
        TagPolicy(deny=("latest",)),
        Action.PUSH,
        "latest",
        None,
        (DENY_LATEST,),
        ("push a version tag",),
    ),
    (
        "push-tag-not-allowed",
        TagPolicy(allow=(SEMVER,)),
        Action.PUSH,
        "main",
        None,
        (r"tag 'main' matches none of the allowed patterns ^v?[0-9]+\.[0-9]+\.[0-9]+$",),
        (r"push under a tag that matches ^v?[0-9]+\.[0-9]+\.[0-9]+$",),
    ),
    (
        "immutable-moved",
        TagPolicy(immutable=True),
        Action.PUSH,
        "v1.2.3",
        OTHER,
        (f"tag 'v1.2.3' is immutable: it already points to {OTHER}",),
        ("push under a new tag instead of moving 'v1.2.3'",),
    ),
    ("immutable-new-tag", TagPolicy(immutable=True), Action.PUSH, "v1.2.3", None, (), ()),
    ("immutable-same-digest", TagPolicy(immutable=True), Action.PUSH, "v1.2.3", DIGEST, (), ()),
    ("immutable-push-by-digest", TagPolicy(immutable=True), Action.PUSH, DIGEST, OTHER, (), ()),
    ("immutable-not-on-pull", TagPolicy(immutable=True), Action.PULL, "v1.2.3", OTHER, (), ()),
    (
        "mutable-moved",
        TagPolicy(),
        Action.PUSH,
        "v1.2.3",
        OTHER,
        (),
        (),
    ),
]


@pytest.mark.parametrize(
    ("tags", "action", "reference", "current", "reasons", "hints"),
    [case[1:] for case in TAGS],
    ids=[case[0] for case in TAGS],
)
def test_tag_rules(
    tags: TagPolicy,
    action: Action,
    reference: str,
    current: str | None,
    reasons: tuple[str, ...],
    hints: tuple[str, ...],
) -> None:
    gate = policy(rule("team", "team/*", tags=tags))
    decision = decide(gate, request(reference, action=action, current=current), Evidence())
    assert decision.outcome is (Outcome.DENY if reasons else Outcome.ALLOW)
    assert decision.reasons == reasons
    assert decision.hints == hints


# ---------------------------------------------------------------- artifacts

STRICT = rule(
    "strict",
    "team/*",
    tags=TagPolicy(require_digest=True, allow=(SEMVER,)),
    signatures=SignaturePolicy(keys=()),
    scan=ScanPolicy(),
)


SIG_TAG = "sha256-" + "c" * 64 + ".sig"


@pytest.mark.parametrize("action", [Action.PULL, Action.PUSH], ids=lambda a: a.value)
@pytest.mark.parametrize("kind", [ManifestClass.ARTIFACT, ManifestClass.ARTIFACT_INDEX])
def test_artifacts_under_artifact_tags_skip_tag_and_evidence_checks(
    action: Action, kind: ManifestClass
) -> None:
    decision = decide(
        policy(STRICT),
        request(SIG_TAG, action=action, subject="sha256:" + "c" * 64, kind=kind),
        Evidence(),
    )
    assert summary(decision) == (
        Outcome.ALLOW,
        "strict",
        (f"{kind.value} under artifact tag {SIG_TAG}: not runnable",),
    )


@pytest.mark.parametrize("action", [Action.PULL, Action.PUSH], ids=lambda a: a.value)
@pytest.mark.parametrize("kind", [ManifestClass.IMAGE, ManifestClass.INDEX])
def test_runnable_manifests_never_sit_under_artifact_tags(
    action: Action, kind: ManifestClass
) -> None:
    decision = decide(policy(STRICT), request(SIG_TAG, action=action, kind=kind), Evidence())
    assert decision.outcome is Outcome.DENY
    assert decision.codes == ("artifact-tag-runnable",)


@pytest.mark.parametrize("action", [Action.PULL, Action.PUSH], ids=lambda a: a.value)
def test_a_subject_does_not_exempt_a_runnable_image(action: Action) -> None:
    # The review's finding 1: an unsigned image under `latest` with a subject field.
    decision = decide(policy(STRICT), request("latest", action=action, subject=OTHER), Evidence())
    assert decision.outcome is Outcome.DENY
    assert "tag-not-allowed" in decision.codes


def test_artifacts_under_ordinary_tags_obey_tag_rules_but_need_no_evidence() -> None:
    sbom = ManifestClass.ARTIFACT
    denied = decide(policy(STRICT), request("latest", action=Action.PUSH, kind=sbom), Evidence())
    assert denied.codes == ("tag-not-allowed",)
    allowed = decide(policy(STRICT), request("v1.2.3", action=Action.PUSH, kind=sbom), Evidence())
    assert allowed.outcome is Outcome.ALLOW


def test_index_child_inherits_signature_but_not_its_own_verdict() -> None:
    child = request(DIGEST, inherited_from=OTHER)
    critical = ScanEvidence(
        ScanVerdict(DIGEST, "trivy", NOW, (Finding("CVE-1", "openssl", "1", "2", "CRITICAL"),))
    )
    refused = decide(policy(STRICT), child, Evidence(scan=critical))
    assert refused.codes == ("scan-vulnerable",)
    no_verdict = decide(policy(STRICT), child, Evidence(scan=ScanEvidence(None)))
    assert no_verdict.outcome is Outcome.ALLOW
    not_gathered = decide(policy(STRICT), child, Evidence())
    assert not_gathered.codes == ("evidence-unavailable",)


def test_unparseable_manifests_are_refused() -> None:
    broken = replace(request(), manifest_class=None, problem="not JSON")
    decision = decide(policy(STRICT), broken, Evidence())
    assert decision.codes == ("manifest-invalid",)
    assert decision.reasons == ("manifest cannot be checked: not JSON",)


def test_artifact_under_deny_rule_is_denied() -> None:
    gate = policy(rule("closed", "**", action=RuleAction.DENY))
    decision = decide(gate, request(subject=OTHER), Evidence())
    assert summary(decision) == (
        Outcome.DENY,
        "closed",
        ("repository team/app is denied by rule 'closed'",),
    )


def test_artifact_without_rule_is_denied() -> None:
    decision = decide(policy(), request(subject=OTHER), Evidence())
    assert summary(decision) == (
        Outcome.DENY,
        None,
        ("no policy rule matches repository team/app",),
    )


# ---------------------------------------------------------------- modes

MODES = [
    # (policy mode, rule mode, forced dry-run, expected mode, log outcome)
    (Mode.ENFORCE, None, False, Mode.ENFORCE, "deny"),
    (Mode.DRY_RUN, None, False, Mode.DRY_RUN, "would-deny"),
    (Mode.ENFORCE, Mode.DRY_RUN, False, Mode.DRY_RUN, "would-deny"),
    (Mode.DRY_RUN, Mode.ENFORCE, False, Mode.ENFORCE, "deny"),
    (Mode.ENFORCE, Mode.ENFORCE, True, Mode.DRY_RUN, "would-deny"),
]


@pytest.mark.parametrize(
    ("file_mode", "rule_mode", "forced", "mode", "logged"),
    MODES,
    ids=["file-enforce", "file-dry-run", "rule-dry-run", "rule-enforce", "forced-dry-run"],
)
def test_modes(
    file_mode: Mode, rule_mode: Mode | None, forced: bool, mode: Mode, logged: str
) -> None:
    gate = policy(
        rule("team", "team/*", mode=rule_mode, tags=TagPolicy(deny=("latest",))), mode=file_mode
    )
    if forced:
        gate = gate.force_dry_run()
    decision = decide(gate, request("latest"), Evidence())
    assert (decision.outcome, decision.mode, decision.log_outcome) == (Outcome.DENY, mode, logged)
    assert decision.refused is (logged == "deny")


def test_forced_dry_run_applies_to_the_no_match_default_deny() -> None:
    decision = decide(policy().force_dry_run(), request(), Evidence())
    assert (decision.outcome, decision.log_outcome) == (Outcome.DENY, "would-deny")


# ---------------------------------------------------------------- missing evidence

SIGNED = SignatureEvidence(signers=("cosign.pub",))
CLEAN = ScanEvidence(ScanVerdict(DIGEST, "trivy report", NOW, ()))
FACTS = ImageFacts(user="app")
EVIDENCE_RULE = rule(
    "checked",
    "team/*",
    signatures=SignaturePolicy(keys=()),
    scan=ScanPolicy(),
    image=ImagePolicy(user="non-root"),
)
MISSING = [
    (
        "signatures",
        Evidence(scan=CLEAN, image=FACTS),
        ("signatures evidence could not be gathered",),
    ),
    ("scan", Evidence(signatures=SIGNED, image=FACTS), ("scan evidence could not be gathered",)),
    ("image", Evidence(signatures=SIGNED, scan=CLEAN), ("image evidence could not be gathered",)),
    (
        "all",
        Evidence(),
        (
            "signatures evidence could not be gathered",
            "scan evidence could not be gathered",
            "image evidence could not be gathered",
        ),
    ),
]


@pytest.mark.parametrize(
    ("evidence", "reasons"), [m[1:] for m in MISSING], ids=[m[0] for m in MISSING]
)
def test_missing_evidence_fails_closed(evidence: Evidence, reasons: tuple[str, ...]) -> None:
    decision = decide(policy(EVIDENCE_RULE), request(), evidence)
    assert summary(decision) == (Outcome.DENY, "checked", reasons)
    assert decision.hints == (MISSING_HINT,)


def test_all_evidence_present_allows_with_notes() -> None:
    decision = decide(policy(EVIDENCE_RULE), request(), Evidence(SIGNED, CLEAN, FACTS))
    assert summary(decision) == (
        Outcome.ALLOW,
        "checked",
        ("signed by cosign.pub", "vulnerability verdict from trivy report: no blocking findings"),
    )


def test_evidence_is_not_checked_on_push() -> None:
    decision = decide(policy(EVIDENCE_RULE), request(action=Action.PUSH), Evidence())
    assert summary(decision) == (
        Outcome.ALLOW,
        "checked",
        ("signatures, scan, image checks run on pull, not on push",),
    )


def test_every_failure_is_reported_with_deduplicated_hints() -> None:
    gate = policy(replace(EVIDENCE_RULE, tags=TagPolicy(deny=("latest",), allow=(SEMVER,))))
    evidence = Evidence(SignatureEvidence(()), ScanEvidence(None), ImageFacts(user="root"))
    decision = decide(gate, request("latest"), evidence)
    assert decision.reasons == (
        DENY_LATEST,
        "no signature found",
        f"no vulnerability verdict for {DIGEST}",
        "image runs as root (user 'root')",
    )
    assert decision.hints == (
        PIN_HINT,
        SIGN_HINT,
        SCAN_HINT,
        "set a non-root USER in the Dockerfile (e.g. USER 65532:65532)",
    )


# ---------------------------------------------------------------- signatures

SIGNATURES = [
    # (id, threshold, evidence, reasons)
    ("one-of-one", 1, SignatureEvidence(("a",)), ()),
    ("two-of-two", 2, SignatureEvidence(("a", "b")), ()),
    (
        "none-found",
        1,
        SignatureEvidence((), looked_at=(f"sha256-{'a' * 64}.sig", "referrers")),
        (f"no signature found (looked at sha256-{'a' * 64}.sig, referrers)",),
    ),
    ("none-found-nowhere", 1, SignatureEvidence(()), ("no signature found",)),
    (
        "problems-reported",
        1,
        SignatureEvidence(
            (), looked_at=("x.sig",), problems=("p1: bad signature", "p2: unknown key")
        ),
        ("p1: bad signature", "p2: unknown key"),
    ),
    (
        "below-threshold",
        2,
        SignatureEvidence(("a",), problems=("b.sig: expired certificate",)),
        ("1 trusted signature of the 2 required (signed by a)", "b.sig: expired certificate"),
    ),
    (
        "duplicate-signer-counts-once",
        2,
        SignatureEvidence(("a", "a")),
        ("1 trusted signature of the 2 required (signed by a)",),
    ),
    (
        "two-below-three",
        3,
        SignatureEvidence(("a", "b")),
        ("2 trusted signatures of the 3 required (signed by a, b)",),
    ),
]


@pytest.mark.parametrize(
    ("threshold", "evidence", "reasons"),
    [s[1:] for s in SIGNATURES],
    ids=[s[0] for s in SIGNATURES],
)
def test_signatures(threshold: int, evidence: SignatureEvidence, reasons: tuple[str, ...]) -> None:
    gate = policy(rule("signed", "team/*", signatures=SignaturePolicy(threshold=threshold)))
    decision = decide(gate, request(), Evidence(signatures=evidence))
    assert decision.outcome is (Outcome.DENY if reasons else Outcome.ALLOW)
    if reasons:
        assert (decision.reasons, decision.hints) == (reasons, (SIGN_HINT,))
    else:
        assert decision.reasons == (f"signed by {', '.join(dict.fromkeys(evidence.signers))}",)


# ---------------------------------------------------------------- scan


def finding(
    vuln: str, severity: str = "CRITICAL", fixed: str | None = "1.1", package: str = "openssl"
) -> Finding:
    return Finding(vuln, package, "1.0", fixed, severity)


def verdict(
    *findings: Finding, created: datetime | None = NOW, digest: str = DIGEST
) -> ScanEvidence:
    return ScanEvidence(ScanVerdict(digest, "trivy report r.json", created, findings))


def one_critical(vuln: str) -> str:
    return (
        f"blocking vulnerabilities: {vuln} in openssl 1.0 → 1.1 (CRITICAL) (1 finding at CRITICAL)"
    )


TODAY = NOW.date()
SCANS = [
    # (id, scan policy, evidence, outcome, reasons)
    (
        "no-verdict-required",
        ScanPolicy(),
        ScanEvidence(None, note="attestations, reports/"),
        Outcome.DENY,
        (f"no vulnerability verdict for {DIGEST} (looked at: attestations, reports/)",),
    ),
    (
        "no-verdict-optional",
        ScanPolicy(require_verdict=False),
        ScanEvidence(None),
        Outcome.ALLOW,
        (f"no vulnerability verdict for {DIGEST}; allowed because scan.require_verdict is false",),
    ),
    (
        "verdict-for-other-digest",
        ScanPolicy(),
        verdict(digest=OTHER),
        Outcome.DENY,
        (
            f"the vulnerability verdict from trivy report r.json is for {OTHER}, not {DIGEST};"
            " treated as missing",
        ),
    ),
    (
        "stale-verdict",
        ScanPolicy(max_age=timedelta(days=7)),
        verdict(created=NOW - timedelta(days=7, seconds=1)),
        Outcome.DENY,
        (
            "the vulnerability verdict from trivy report r.json is older than scan.max_age 7d"
            " (created 2025-05-25T11:59:59Z); treated as missing",
        ),
    ),
    (
        "stale-verdict-optional",
        ScanPolicy(max_age=timedelta(days=7), require_verdict=False),
        verdict(finding("CVE-1"), created=NOW - timedelta(days=8)),
        Outcome.ALLOW,
        (
            "the vulnerability verdict from trivy report r.json is older than scan.max_age 7d"
            " (created 2025-05-24T12:00:00Z); treated as missing; allowed because"
            " scan.require_verdict is false",
        ),
    ),
    (
        "fresh-verdict-at-limit",
        ScanPolicy(max_age=timedelta(days=7)),
        verdict(created=NOW - timedelta(days=7)),
        Outcome.ALLOW,
        ("vulnerability verdict from trivy report r.json: no blocking findings",),
    ),
    (
        "naive-created-taken-as-utc",
        ScanPolicy(max_age=timedelta(hours=1)),
        verdict(created=datetime(2025, 6, 1, 11, 30)),
        Outcome.ALLOW,
        ("vulnerability verdict from trivy report r.json: no blocking findings",),
    ),
    (
        "verdict-without-time",
        ScanPolicy(max_age=timedelta(hours=12)),
        verdict(created=None),
        Outcome.DENY,
        (
            "the vulnerability verdict from trivy report r.json has no creation time, so"
            " scan.max_age 12h cannot be checked; treated as missing",
        ),
    ),
    (
        "critical-blocks",
        ScanPolicy(),
        verdict(finding("CVE-1"), finding("CVE-2", "HIGH")),
        Outcome.DENY,
        (one_critical("CVE-1"),),
    ),
    (
        "severity-case-and-no-fix",
        ScanPolicy(deny_severities=("CRITICAL", "HIGH")),
        verdict(finding("CVE-2", "high", fixed=None, package="zlib"), finding("CVE-1", fixed="")),
        Outcome.DENY,
        (
            "blocking vulnerabilities: CVE-1 in openssl 1.0 → no fix (CRITICAL);"
            " CVE-2 in zlib 1.0 → no fix (HIGH) (2 findings at CRITICAL/HIGH)",
        ),
    ),
    (
        "low-does-not-block",
        ScanPolicy(deny_severities=("CRITICAL", "HIGH")),
        verdict(finding("CVE-1", "LOW"), finding("CVE-2", "MEDIUM")),
        Outcome.ALLOW,
        ("vulnerability verdict from trivy report r.json: no blocking findings",),
    ),
    (
        "empty-deny-severities",
        ScanPolicy(deny_severities=()),
        verdict(finding("CVE-1")),
        Outcome.ALLOW,
        ("vulnerability verdict from trivy report r.json: no blocking findings",),
    ),
    (
        "ignored-forever",
        ScanPolicy(ignore=(IgnoredVulnerability("cve-1", "not reachable"),)),
        verdict(finding("CVE-1")),
        Outcome.ALLOW,
        ("vulnerability verdict from trivy report r.json: no blocking findings",),
    ),
    (
        "ignored-until-today",
        ScanPolicy(ignore=(IgnoredVulnerability("CVE-1", "r", TODAY),)),
        verdict(finding("CVE-1")),
        Outcome.ALLOW,
        ("vulnerability verdict from trivy report r.json: no blocking findings",),
    ),
    (
        "ignore-expired",
        ScanPolicy(ignore=(IgnoredVulnerability("CVE-1", "r", TODAY - timedelta(days=1)),)),
        verdict(finding("CVE-1")),
        Outcome.DENY,
        (one_critical("CVE-1"),),
    ),
    (
        "ignore-unfixed",
        ScanPolicy(ignore_unfixed=True),
        verdict(finding("CVE-1", fixed=None), finding("CVE-2", fixed=""), finding("CVE-3")),
        Outcome.DENY,
        (one_critical("CVE-3"),),
    ),
    (
        "ignore-unfixed-all-unfixed",
        ScanPolicy(ignore_unfixed=True),
        verdict(finding("CVE-1", fixed=None)),
        Outcome.ALLOW,
        ("vulnerability verdict from trivy report r.json: no blocking findings",),
    ),
    (
        "at-most-five-then-total",
        ScanPolicy(deny_severities=("CRITICAL", "HIGH")),
        verdict(*(finding(f"CVE-{n}", "HIGH") for n in range(1, 7)), finding("CVE-9")),
        Outcome.DENY,
        (
            "blocking vulnerabilities: CVE-9 in openssl 1.0 → 1.1 (CRITICAL);"
            " CVE-1 in openssl 1.0 → 1.1 (HIGH); CVE-2 in openssl 1.0 → 1.1 (HIGH);"
            " CVE-3 in openssl 1.0 → 1.1 (HIGH); CVE-4 in openssl 1.0 → 1.1 (HIGH);"
            " and 2 more (7 findings at CRITICAL/HIGH)",
        ),
    ),
]


@pytest.mark.parametrize(
    ("scan", "evidence", "outcome", "reasons"), [s[1:] for s in SCANS], ids=[s[0] for s in SCANS]
)
def test_scan(
    scan: ScanPolicy, evidence: ScanEvidence, outcome: Outcome, reasons: tuple[str, ...]
) -> None:
    decision = decide(
        policy(rule("scanned", "team/*", scan=scan)), request(), Evidence(scan=evidence)
    )
    assert (decision.outcome, decision.reasons) == (outcome, reasons)


def test_scan_hints() -> None:
    expired = IgnoredVulnerability("CVE-1", "r", date(2025, 5, 1))
    gate = policy(rule("scanned", "team/*", scan=ScanPolicy(ignore=(expired,))))
    decision = decide(gate, request(), Evidence(scan=verdict(finding("CVE-1"))))
    assert decision.hints == (
        FIX_HINT,
        "the scan.ignore entry for CVE-1 expired on 2025-05-01: review it again",
    )
    missing = decide(gate, request(), Evidence(scan=ScanEvidence(None)))
    assert missing.hints == (SCAN_HINT,)


# ---------------------------------------------------------------- image

BASE = "org.opencontainers.image.base.name"
IMAGES = [
    # (id, image policy, facts, reasons)
    ("non-root-ok", ImagePolicy(user="non-root"), ImageFacts(user="1000:1000"), ()),
    ("non-root-named", ImagePolicy(user="non-root"), ImageFacts(user="app"), ()),
    ("user-any", ImagePolicy(user="any"), ImageFacts(user=""), ()),
    (
        "no-user",
        ImagePolicy(user="non-root"),
        ImageFacts(user=""),
        ("image runs as root (no USER set)",),
    ),
    (
        "root",
        ImagePolicy(user="non-root"),
        ImageFacts(user="root"),
        ("image runs as root (user 'root')",),
    ),
    (
        "uid-0",
        ImagePolicy(user="non-root"),
        ImageFacts(user="0"),
        ("image runs as root (user '0')",),
    ),
    (
        "uid-0-group",
        ImagePolicy(user="non-root"),
        ImageFacts(user="0:1000"),
        ("image runs as root (user '0:1000')",),
    ),
    (
        "root-group",
        ImagePolicy(user="non-root"),
        ImageFacts(user="root:root"),
        ("image runs as root (user 'root:root')",),
    ),
    (
        "uid-00",
        ImagePolicy(user="non-root"),
        ImageFacts(user="00"),
        ("image runs as root (user '00')",),
    ),
    ("uid-10-not-root", ImagePolicy(user="non-root"), ImageFacts(user="10"), ()),
    (
        "secrets-in-env",
        ImagePolicy(forbid_secrets_in_env=True),
        ImageFacts(
            env=(
                "PATH=/usr/bin",
                "DB_PASSWORD=hunter2",
                "github_token=ghp_123",
                "API_KEY=k",
                "EMPTY_SECRET=",
                "POSTGRES_PASSWORD_FILE=/run/secrets/pw",
                "GPG_KEY=ABCDEF",
            )
        ),
        (
            "secrets baked into the image: ENV DB_PASSWORD (named like a secret),"
            " ENV github_token (named like a secret), ENV API_KEY (named like a secret)",
        ),
    ),
    ("secrets-allowed", ImagePolicy(), ImageFacts(env=("DB_PASSWORD=hunter2",)), ()),
    (
        "healthcheck-missing",
        ImagePolicy(require_healthcheck=True),
        ImageFacts(),
        ("image has no HEALTHCHECK",),
    ),
    (
        "healthcheck-present",
        ImagePolicy(require_healthcheck=True),
        ImageFacts(healthcheck=True),
        (),
    ),
    (
        "too-old",
        ImagePolicy(max_age=timedelta(days=90)),
        ImageFacts(created=NOW - timedelta(days=91)),
        ("image is older than image.max_age 90d (created 2025-03-02T12:00:00Z)",),
    ),
    (
        "young-enough",
        ImagePolicy(max_age=timedelta(days=90)),
        ImageFacts(created=NOW - timedelta(days=89)),
        (),
    ),
    (
        "no-created",
        ImagePolicy(max_age=timedelta(days=90)),
        ImageFacts(),
        ("image has no creation time, so image.max_age 90d fails",),
    ),
    (
        "add-from-url",
        ImagePolicy(forbid_add_from_url=True),
        ImageFacts(
            history=(
                "ADD file:abc in /",
                "ADD https://user:secret@example.com/x.tgz /opt/ # buildkit",
                "RUN curl https://example.com",
                "/bin/sh -c #(nop) ADD http://example.com/y /y",
            )
        ),
        ("image history adds files from a URL (ADD http(s)://…, step 2, 4)",),
    ),
    (
        "add-local-only",
        ImagePolicy(forbid_add_from_url=True),
        ImageFacts(history=("ADD . /app",)),
        (),
    ),
    (
        "too-large",
        ImagePolicy(max_size_bytes=500 * 1024**2),
        ImageFacts(size_bytes=600 * 1024**2),
        ("image is 600.0 MiB, larger than image.max_size 500.0 MiB",),
    ),
    ("size-at-limit", ImagePolicy(max_size_bytes=1000), ImageFacts(size_bytes=1000), ()),
    (
        "labels-missing",
        ImagePolicy(required_labels=("a", "b", "c")),
        ImageFacts(labels={"a": "x", "b": " "}),
        ("image lacks required labels: b, c",),
    ),
    ("labels-present", ImagePolicy(required_labels=("a",)), ImageFacts(labels={"a": "x"}), ()),
    (
        "base-unknown",
        ImagePolicy(trusted_bases=("docker.io/library/alpine",)),
        ImageFacts(),
        (f"base image unknown: no signed provenance names it, and label {BASE} is not set",),
    ),
    (
        "base-untrusted",
        ImagePolicy(trusted_bases=("docker.io/library/alpine",)),
        ImageFacts(labels={BASE: "docker.io/library/alpine-evil:1"}),
        (
            "base image docker.io/library/alpine-evil:1 is untrusted"
            f" (read from label {BASE}: no signed provenance names it)",
        ),
    ),
    (
        "base-trusted-tag",
        ImagePolicy(trusted_bases=("docker.io/library/alpine",)),
        ImageFacts(labels={BASE: "docker.io/library/alpine:3.20"}),
        (),
    ),
    (
        "base-trusted-prefix",
        ImagePolicy(trusted_bases=("cgr.dev/chainguard/", "docker.io/library/alpine")),
        ImageFacts(labels={BASE: "cgr.dev/chainguard/static@sha256:" + "1" * 64}),
        (),
    ),
    (
        "all-checks-fail",
        ImagePolicy(user="non-root", require_healthcheck=True, required_labels=("a",)),
        ImageFacts(),
        (
            "image runs as root (no USER set)",
            "image has no HEALTHCHECK",
            "image lacks required labels: a",
        ),
    ),
]


@pytest.mark.parametrize(
    ("image", "facts", "reasons"), [i[1:] for i in IMAGES], ids=[i[0] for i in IMAGES]
)
def test_image(image: ImagePolicy, facts: ImageFacts, reasons: tuple[str, ...]) -> None:
    decision = decide(policy(rule("img", "team/*", image=image)), request(), Evidence(image=facts))
    assert decision.outcome is (Outcome.DENY if reasons else Outcome.ALLOW)
    assert decision.reasons == reasons
    assert len(decision.hints) == len(reasons)
    assert not any(
        "hunter2" in text or "ghp_123" in text for text in decision.reasons + decision.hints
    )


GATED = rule("team", "team/*", signatures=SignaturePolicy(keys=()))
OPEN = rule("open", "open/*")
FROZEN = rule("frozen", "frozen/*", tags=TagPolicy(immutable=True))
CLOSED = rule("secret", "secret/*", action=RuleAction.DENY)
EVERY_KIND = policy(GATED, OPEN, FROZEN, CLOSED)


def plain(action: Action, repository: str, *, opened: bool = False) -> AdmissionRequest:
    return AdmissionRequest(action, repository, DIGEST, DIGEST, now=NOW, opened=opened)


@pytest.mark.parametrize(
    ("action", "repository", "opened", "codes"),
    [
        # Blob reads: open only where an admitted manifest lists the blob (or nothing is checked).
        (Action.READ_BLOB, "team/app", False, ("blob-not-admitted",)),
        (Action.READ_BLOB, "team/app", True, ()),
        (Action.READ_BLOB, "open/app", False, ()),
        (Action.READ_BLOB, "secret/app", True, ("repository-denied",)),
        (Action.READ_BLOB, "other/app", True, ("no-rule",)),
        # A mount reads its source repository.
        (Action.MOUNT, "team/app", False, ("mount-source",)),
        (Action.MOUNT, "team/app", True, ()),
        (Action.MOUNT, "open/app", False, ()),
        (Action.MOUNT, "secret/app", True, ("repository-denied",)),
        # Existence, uploads, lists: the repository gate is their whole rule.
        (Action.STAT_BLOB, "team/app", False, ()),
        (Action.STAT_BLOB, "secret/app", False, ("repository-denied",)),
        (Action.UPLOAD, "team/app", False, ()),
        (Action.UPLOAD, "secret/app", False, ("repository-denied",)),
        (Action.LIST_TAGS, "secret/app", False, ("repository-denied",)),
        (Action.REFERRERS, "secret/app", False, ("repository-denied",)),
        (Action.CATALOG, "secret/app", False, ("repository-denied",)),
        (Action.CATALOG, "other/app", False, ("no-rule",)),
        (Action.CATALOG, "team/app", False, ()),
        (Action.DELETE_BLOB, "frozen/app", False, ()),
        # Deleting under immutable tags would let a tag move.
        (Action.DELETE, "frozen/app", False, ("tag-immutable",)),
        (Action.DELETE, "team/app", False, ()),
    ],
)
def test_every_request_kind_is_decided(
    action: Action, repository: str, opened: bool, codes: tuple[str, ...]
) -> None:
    decision = decide(EVERY_KIND, plain(action, repository, opened=opened))
    assert decision.codes == codes
    assert decision.outcome is (Outcome.DENY if codes else Outcome.ALLOW)


def test_dry_run_blob_refusals_are_would_deny() -> None:
    dry = policy(GATED, mode=Mode.DRY_RUN)
    decision = decide(dry, plain(Action.READ_BLOB, "team/app"))
    assert decision.log_outcome == "would-deny" and not decision.refused

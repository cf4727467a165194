"""Attestation requirements judged over real and made-up statements, then decided.

The real one is the public SLSA v1 provenance bundle of npm ``sigstore@3.1.0`` (see
tests/assets/provenance/SOURCES.md), verified offline against the production trusted root.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.gatherers.artifacts import Discovery
from gatekeeper.gatherers.provenance import judge_requirement
from gatekeeper.policy.artifacts import ManifestClass
from gatekeeper.policy.attestation_evidence import AttestationsEvidence, RequirementEvidence
from gatekeeper.policy.attestation_model import AttestationRequirement
from gatekeeper.policy.decide import decide
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import AdmissionRequest, Evidence
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.model import Action, Outcome, Policy
from gatekeeper.trust.verify import BundleSignature, Candidate
from tests.helpers import cosign_sign
from tests.helpers.provenance import slsa_statement

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "provenance"
NPM_BUNDLE = (ASSETS / "sigstore-3.1.0.sigstore.json").read_bytes()
NPM_DIGEST = (
    "sha512:669cd60051c816ac85139e9d5ea817fc3903459773fab45c8e8224fd1414e085"
    "f4c220afd65f12ed9ad70c770273eb9a7feea8ef0de1da5de0e86606e5328df5"
)
SLSA = "https://slsa.dev/provenance/v1"
KEY = ec.generate_private_key(ec.SECP256R1())
SAN = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
DIGEST = "sha256:" + "cd" * 32
ACME = "https://github.com/acme/app"
KEYS = "{keys: [cosign.pub]}"

POLICY = """\
rules:
  - name: built
    repositories: ["**"]
    attestations:
      - name: provenance
        predicate_type: {predicate_type}
        signers: {signers}
        conditions:
          - predicate.buildDefinition.externalParameters.workflow.repository == "{repository}"
          - predicate.runDetails.builder.id.startsWith("https://github.com/actions/runner")
"""
GITHUB = (
    "{keyless: [{issuer: 'https://token.actions.githubusercontent.com',"
    " subject_regex: '^https://github\\.com/%s/.+'}]}"
)


def compile_policy(
    tmp_path: Path,
    *,
    repository: str = "https://github.com/sigstore/sigstore-js",
    signers: str = GITHUB % "sigstore",
    predicate_type: str = SLSA,
) -> Policy:
    (tmp_path / "cosign.pub").write_bytes(cosign_sign.public_key_pem(KEY))
    path = tmp_path / "policy.yaml"
    path.write_text(
        textwrap.dedent(POLICY).format(
            repository=repository, signers=signers, predicate_type=predicate_type
        )
    )
    return load_policy([path])


def requirement(policy: Policy) -> AttestationRequirement:
    return policy.rules[0].attestations[0]


def judge(policy: Policy, digest: str = NPM_DIGEST, *candidates: Candidate) -> RequirementEvidence:
    found = Discovery(
        candidates or (BundleSignature("referrer sha256:npm", NPM_BUNDLE),), ("referrers",), ()
    )
    return judge_requirement(found, digest, requirement(policy))


def decision(policy: Policy, evidence: RequirementEvidence, digest: str = NPM_DIGEST) -> Decision:
    request = AdmissionRequest(
        Action.PULL, "npm/sigstore", "3.1.0", digest, manifest_class=ManifestClass.IMAGE
    )
    return decide(policy, request, Evidence(attestations=AttestationsEvidence((evidence,))))


def tampered(change: Callable[[dict[str, Any]], None]) -> BundleSignature:
    doc = json.loads(NPM_BUNDLE)
    change(doc)
    return BundleSignature("referrer sha256:npm", json.dumps(doc).encode())


def test_real_slsa_provenance_verifies_offline_and_satisfies(tmp_path: Path) -> None:
    # An intoto 0.0.2 Rekor entry: verified by gatekeeper itself (trust/intoto_bundles.py),
    # since sigstore-python refuses that entry kind.
    policy = compile_policy(tmp_path)
    evidence = judge(policy)
    assert evidence.problems == ()
    assert evidence.satisfied_by is not None
    assert evidence.satisfied_by.signer == f"https://token.actions.githubusercontent.com {SAN}"
    allowed = decision(policy, evidence)
    assert allowed.outcome is Outcome.ALLOW
    assert any("attestation 'provenance'" in note for note in allowed.reasons)


def test_real_slsa_provenance_with_another_repository_names_what_it_saw(tmp_path: Path) -> None:
    policy = compile_policy(tmp_path, repository="https://github.com/acme/app")
    evidence = judge(policy)
    assert evidence.satisfied_by is None
    denied = decision(policy, evidence)
    assert denied.outcome is Outcome.DENY
    assert denied.codes == ("attestation-unsatisfied",)
    (reason,) = denied.reasons
    assert "attestation 'provenance' (https://slsa.dev/provenance/v1)" in reason
    assert (
        "`predicate.buildDefinition.externalParameters.workflow.repository =="
        ' "https://github.com/acme/app"` was false'
    ) in reason
    assert (
        "saw predicate.buildDefinition.externalParameters.workflow.repository ="
        ' "https://github.com/sigstore/sigstore-js"'
    ) in reason


@pytest.mark.parametrize(
    ("signers", "reason"),
    [
        (GITHUB % "acme", "does not match the policy's keyless identities"),
        (
            "{keyless: [{issuer: 'https://token.actions.githubusercontent.com',"
            f" subject: '{SAN}', claims: {{runner_environment: self-hosted}}}}]}}",
            "claim runner_environment is 'github-hosted'",
        ),
    ],
)
def test_real_provenance_from_an_untrusted_identity_does_not_count(
    tmp_path: Path, signers: str, reason: str
) -> None:
    policy = compile_policy(tmp_path, signers=signers)
    evidence = judge(policy)
    assert evidence.statements == ()
    denied = decision(policy, evidence)
    assert denied.codes == ("attestation-missing",)
    assert reason in denied.reasons[0]


def test_real_provenance_about_another_digest_does_not_count(tmp_path: Path) -> None:
    evidence = judge(compile_policy(tmp_path), "sha512:" + "0" * 128)
    assert evidence.statements == ()
    assert f"attestation is for {NPM_DIGEST[:60]}" in evidence.problems[0]


def _payload(doc: dict[str, Any]) -> None:
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["repository"] = (
        "https://github.com/acme/app"
    )
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()


def _set(doc: dict[str, Any]) -> None:
    entry = doc["verificationMaterial"]["tlogEntries"][0]
    entry["integratedTime"] = str(int(entry["integratedTime"]) + 1)


def _no_promise(doc: dict[str, Any]) -> None:
    del doc["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_payload, "DSSE signature does not verify with the certificate's key"),
        (_set, "Rekor SET does not verify"),
        (_no_promise, "keyless bundle has no Rekor SET"),
    ],
)
def test_a_tampered_real_bundle_is_refused(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    evidence = judge(compile_policy(tmp_path), NPM_DIGEST, tampered(change))
    assert evidence.statements == ()
    assert reason in evidence.problems[0], evidence.problems


def keyed(digest: str, **changes: str) -> BundleSignature:
    statement = slsa_statement(digest, "app", **changes)
    return BundleSignature("referrer sha256:att", cosign_sign.dsse_bundle(KEY, statement))


def test_a_key_signed_statement_satisfies_and_allows(tmp_path: Path) -> None:
    policy = compile_policy(tmp_path, repository=ACME, signers=KEYS)
    evidence = judge(policy, DIGEST, keyed(DIGEST))
    assert evidence.satisfied_by is not None
    assert evidence.satisfied_by.signer.startswith("key ")
    allowed = decision(policy, evidence, DIGEST)
    assert allowed.outcome is Outcome.ALLOW
    assert any("attestation 'provenance'" in note for note in allowed.reasons)


def test_an_untrusted_signer_does_not_count(tmp_path: Path) -> None:
    policy = compile_policy(tmp_path, repository=ACME, signers=GITHUB % "acme")
    evidence = judge(policy, DIGEST, keyed(DIGEST))
    assert evidence.statements == ()
    denied = decision(policy, evidence, DIGEST)
    assert denied.codes == ("attestation-missing",)
    assert "signed, but not by a trusted key" in denied.reasons[0]


def test_an_attestation_about_another_digest_does_not_count(tmp_path: Path) -> None:
    policy = compile_policy(tmp_path, repository=ACME, signers=KEYS)
    evidence = judge(policy, DIGEST, keyed("sha256:" + "ef" * 32))
    assert evidence.statements == ()
    assert f"attestation is for sha256:{'ef' * 32} not {DIGEST}" in evidence.problems[0]


def test_another_predicate_type_does_not_count(tmp_path: Path) -> None:
    policy = compile_policy(
        tmp_path, repository=ACME, signers=KEYS, predicate_type="https://slsa.dev/provenance/v0.2"
    )
    evidence = judge(policy, DIGEST, keyed(DIGEST))
    assert evidence.statements == ()
    assert "attestation predicate is 'https://slsa.dev/provenance/v1'" in evidence.problems[0]


def test_a_signature_is_not_an_attestation(tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    signature = cosign_sign.dsse_bundle(KEY, cosign_sign.sign_statement(digest))
    policy = compile_policy(tmp_path, signers="{keys: [cosign.pub]}")
    evidence = judge(policy, digest, BundleSignature("referrer sha256:sig", signature))
    assert evidence.statements == ()
    assert "attestation predicate is 'https://sigstore.dev/cosign/sign/v1'" in evidence.problems[0]
    assert decision(policy, evidence, digest).codes == ("attestation-missing",)


def test_the_first_failing_condition_is_reported_with_its_values(tmp_path: Path) -> None:
    policy = compile_policy(tmp_path, repository=ACME, signers=KEYS)
    evidence = judge(policy, DIGEST, keyed(DIGEST, builder_id="https://example.com/builder"))
    (result,) = evidence.statements
    assert result.failed == (
        'predicate.runDetails.builder.id.startsWith("https://github.com/actions/runner")'
    )
    assert result.seen == ('predicate.runDetails.builder.id = "https://example.com/builder"',)


def test_missing_evidence_for_a_requirement_fails_closed(tmp_path: Path) -> None:
    policy = compile_policy(tmp_path)
    request = AdmissionRequest(
        Action.PULL, "npm/sigstore", "3.1.0", NPM_DIGEST, manifest_class=ManifestClass.IMAGE
    )
    assert decide(policy, request, Evidence()).codes == ("evidence-unavailable",)
    empty = Evidence(attestations=AttestationsEvidence(()))
    assert decide(policy, request, empty).codes == ("evidence-unavailable",)


@pytest.mark.parametrize("count", [1, 5])
def test_problems_in_a_refusal_are_bounded(tmp_path: Path, count: int) -> None:
    policy = compile_policy(tmp_path, signers=GITHUB % "acme")
    evidence = judge(
        policy,
        NPM_DIGEST,
        *(BundleSignature(f"referrer sha256:{i}", b"{}") for i in range(count)),
    )
    reason = decision(policy, evidence).reasons[0]
    assert ("… and 2 more problems" in reason) is (count == 5)


def test_conditions_are_not_evaluated_over_huge_statements(tmp_path: Path) -> None:
    from gatekeeper.gatherers.provenance import MAX_CEL_STATEMENT_BYTES, judge_statement
    from gatekeeper.trust.attestations import VerifiedStatement

    payload = b" " * (MAX_CEL_STATEMENT_BYTES + 1)
    huge = VerifiedStatement("tag x.att", "key k", {"predicate": {}}, payload)
    result = judge_statement(huge, requirement(compile_policy(tmp_path)).conditions)
    assert result.reason.startswith("not evaluated: the statement is larger than")

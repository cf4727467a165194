"""``attestations`` in policy files: compiled strictly, CEL included, and fingerprinted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gatekeeper.policy.loader import PolicyError, check_paths, load_policy
from gatekeeper.policy.model import EvidenceKind, Policy

PROVENANCE = """\
rules:
  - name: built
    repositories: ["acme/**"]
    attestations:
      - name: provenance
        predicate_type: https://slsa.dev/provenance/v1
        signers:
          keyless:
            - issuer: https://token.actions.githubusercontent.com
              subject_regex: '^https://github\\.com/acme/'
        conditions:
          - predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/app"
          - predicate.runDetails.builder.id.startsWith("https://github.com/actions/runner")
"""


def load(tmp_path: Path, text: str, name: str = "p.yaml") -> Policy:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_policy([path])


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    return [line.replace(str(path), "p.yaml") for line in check_paths([path])]


def test_an_attestation_requirement_compiles(tmp_path: Path) -> None:
    rule = load(tmp_path, PROVENANCE).rules[0]
    assert rule.needs == frozenset({EvidenceKind.ATTESTATIONS})
    (requirement,) = rule.attestations
    assert requirement.name == "provenance"
    assert requirement.predicate_type == "https://slsa.dev/provenance/v1"
    assert requirement.signers.material is not None  # trust material parsed at load
    assert requirement.signers.keyless[0].issuer == "https://token.actions.githubusercontent.com"
    assert [c.source for c in requirement.conditions][1].startswith("predicate.runDetails")
    assert requirement.conditions[0].where.endswith("p.yaml:12")
    assert requirement.conditions[0].program is not None


def test_a_bad_expression_is_reported_with_file_and_line(tmp_path: Path) -> None:
    text = PROVENANCE.replace('startsWith("https://github.com/actions/runner")', "startsWith(")
    assert problems(tmp_path, text) == [
        "p.yaml:13: rules[0].attestations[0].conditions[1]: invalid CEL expression: syntax"
        " error at column 43: …Details.builder.id.startsWith▸("
    ]


def test_an_unknown_variable_is_reported(tmp_path: Path) -> None:
    text = PROVENANCE.replace("predicate.runDetails", "predicat.runDetails")
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("p.yaml:13: rules[0].attestations[0].conditions[1]: unknown variable")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("        signers:\n", "        signers:\n          threshold: 2\n"),
            "rules[0].attestations[0].signers.threshold: an attestation counts with one trusted"
            " signature",
        ),
        (("        predicate_type: https://slsa.dev/provenance/v1\n", ""), "missing required key"),
        (("        conditions:\n", "        condition:\n"), "unknown key 'condition'"),
    ],
)
def test_requirement_problems(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    found = problems(tmp_path, PROVENANCE.replace(*change))
    assert any(expected in line for line in found), found


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    entry = PROVENANCE.split("    attestations:\n")[1]
    text = PROVENANCE + entry
    found = problems(tmp_path, text)
    assert any("duplicate attestation name 'provenance'" in line for line in found), found


def test_a_deny_rule_cannot_require_attestations(tmp_path: Path) -> None:
    text = PROVENANCE.replace("    attestations:", "    action: deny\n    attestations:")
    found = problems(tmp_path, text)
    assert any("a rule with action: deny cannot have 'attestations'" in line for line in found)


def test_the_fingerprint_covers_condition_text_not_lines(tmp_path: Path) -> None:
    base = load(tmp_path, PROVENANCE).fingerprint
    moved = load(tmp_path, "# a comment\n\n" + PROVENANCE, "moved.yaml").fingerprint
    changed = load(
        tmp_path, PROVENANCE.replace("acme/app", "acme/other"), "changed.yaml"
    ).fingerprint
    assert base == moved
    assert base != changed


def test_packaged_example_policy_still_loads() -> None:
    with pytest.raises(PolicyError):
        load_policy([Path("/nonexistent/policy.yaml")])


CLAIMS = """\
rules:
  - name: signed
    repositories: ["acme/**"]
    signatures:
      keyless:
        - issuer_regex: '^https://token\\.actions\\.githubusercontent\\.com$'
          subject_regex: '^https://github\\.com/acme/'
          claims:
            source_repository_uri: https://github.com/acme/app
            source_repository_ref: {regex: '^refs/(heads/main|tags/v.*)$'}
            runner_environment: github-hosted
"""


def test_identity_claims_compile(tmp_path: Path) -> None:
    signatures = load(tmp_path, CLAIMS).rules[0].signatures
    assert signatures is not None
    (identity,) = signatures.keyless
    assert identity.issuer is None
    assert identity.issuer_regex is not None
    assert [(m.name, m.value) for m in identity.claims] == [
        ("source_repository_uri", "https://github.com/acme/app"),
        ("source_repository_ref", None),
        ("runner_environment", "github-hosted"),
    ]
    assert identity.claims[1].regex is not None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("runner_environment:", "runner_enviroment:"),
            "p.yaml:11: rules[0].signatures.keyless[0].claims.runner_enviroment: unknown key"
            " 'runner_enviroment' (did you mean 'runner_environment'?)",
        ),
        (
            ("{regex: '^refs/(heads/main|tags/v.*)$'}", "{regex: '('}"),
            "p.yaml:10: rules[0].signatures.keyless[0].claims.source_repository_ref.regex:"
            " invalid regex: missing ), unterminated subpattern",
        ),
        (
            ("        - issuer_regex:", "        - issuer: x\n          issuer_regex:"),
            "p.yaml:6: rules[0].signatures.keyless[0]: set exactly one of issuer or issuer_regex",
        ),
    ],
)
def test_identity_claim_problems(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    found = problems(tmp_path, CLAIMS.replace(*change))
    assert expected in found, found


def test_claims_change_the_fingerprint(tmp_path: Path) -> None:
    base = load(tmp_path, CLAIMS).fingerprint
    other = load(tmp_path, CLAIMS.replace("github-hosted", "self-hosted"), "o.yaml").fingerprint
    assert base != other


def test_signatures_repository_compiles_and_is_checked(tmp_path: Path) -> None:
    text = PROVENANCE.replace(
        "        signers:\n", "        signers:\n          repository: supply-chain/store\n"
    )
    requirement = load(tmp_path, text).rules[0].attestations[0]
    assert requirement.signers.repository == "supply-chain/store"
    found = problems(tmp_path, text.replace("supply-chain/store", "Supply Chain"))
    assert any(
        "rules[0].attestations[0].signers.repository: invalid repository name" in line
        for line in found
    ), found

"""CEL conditions: compiled strictly with the policy, evaluated over a statement only."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper.policy.cel import (
    MAX_EXPRESSION_CHARS,
    ConditionError,
    activation,
    compile_condition,
    evaluate,
)

STATEMENT: dict[str, Any] = {
    "_type": "https://in-toto.io/Statement/v1",
    "predicateType": "https://slsa.dev/provenance/v1",
    "subject": [{"name": "app", "digest": {"sha256": "ab" * 32}}],
    "predicate": {
        "buildDefinition": {
            "externalParameters": {"workflow": {"repository": "https://github.com/acme/app"}},
            "resolvedDependencies": [{"uri": "git+https://github.com/acme/app@refs/heads/main"}],
        },
        "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}},
    },
}


@pytest.mark.parametrize(
    ("source", "held"),
    [
        (
            'predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/app"',
            True,
        ),
        ('predicate.runDetails.builder.id.startsWith("https://github.com/actions/runner")', True),
        ('predicateType == "https://slsa.dev/provenance/v1"', True),
        ("subject.exists(s, s.digest.sha256.size() == 64)", True),
        (
            'predicate.buildDefinition.resolvedDependencies.all(d, d.uri.matches("^git\\\\+https://github\\\\.com/acme/"))',
            True,
        ),
        ('statement._type.endsWith("/v1")', True),
        ("has(predicate.runDetails.byproducts)", False),
        (
            'predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/evil/app"',
            False,
        ),
    ],
)
def test_conditions_over_a_statement(source: str, held: bool) -> None:
    assert evaluate(compile_condition(source), activation(STATEMENT)).held is held


def test_a_failed_condition_shows_the_values_it_read() -> None:
    condition = compile_condition(
        'predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/x/y"'
        ' && predicate.runDetails.builder.id != ""'
    )
    outcome = evaluate(condition, activation(STATEMENT))
    assert not outcome.held
    assert outcome.reason == "false"
    assert outcome.seen == (
        'predicate.buildDefinition.externalParameters.workflow.repository = "https://github.com/acme/app"',
        'predicate.runDetails.builder.id = "https://github.com/actions/runner/github-hosted"',
    )


def test_a_missing_field_is_a_failure_not_a_crash() -> None:
    outcome = evaluate(
        compile_condition("predicate.invocation.configSource.uri == 'x'"), activation(STATEMENT)
    )
    assert not outcome.held
    assert outcome.reason.startswith("error: no such member")


def test_a_non_boolean_result_fails() -> None:
    outcome = evaluate(compile_condition("predicate.runDetails"), activation(STATEMENT))
    assert not outcome.held
    assert outcome.reason.startswith("not a boolean (")


def test_values_seen_are_bounded() -> None:
    statement = {**STATEMENT, "predicate": {"blob": "x" * 10_000}}
    outcome = evaluate(compile_condition('predicate.blob == "y"'), activation(statement))
    assert len(outcome.seen[0]) < 200
    assert outcome.seen[0].endswith("…")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("predicate.a ==", "invalid CEL expression"),
        ("predicat.a == 1", "unknown variable 'predicat'"),
        ("request.object == 1", "unknown variable 'request'"),
        ("subject.all(a, subject.all(b, subject.all(c, true)))", "nest deeper than 2"),
        ("x" * (MAX_EXPRESSION_CHARS + 1), "longer than"),
    ],
)
def test_bad_expressions_are_refused_when_compiled(source: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        compile_condition(source)


def test_macro_variables_are_known_inside_their_macro() -> None:
    condition = compile_condition("subject.exists(s, s.name == 'app')")
    assert evaluate(condition, activation(STATEMENT)).held


def test_conditions_compare_by_source_text() -> None:
    assert compile_condition("true", "a.yaml:1") == compile_condition("true", "b.yaml:9")
    assert compile_condition("true") != compile_condition("false")

"""The JSON schema of policy files (package data) and validation against it.

The schema documents the format for users and editors; the loader's own checks give the
line-precise messages. The loader also validates every file against the schema so the two
cannot drift apart unnoticed: a document the schema rejects is never loaded.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from gatekeeper.policy.yamldoc import Document, Problem


def load_schema() -> dict[str, Any]:
    """The policy JSON schema (draft 2020-12), read from the package."""
    text = resources.files("gatekeeper.policy").joinpath("schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_validator() -> Draft202012Validator:
    """A validator for the policy schema that also checks ``format`` (dates, regexes)."""
    return Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problems(document: Document, validator: Draft202012Validator) -> list[Problem]:
    """Every schema violation in ``document``, located like the loader's own problems."""
    return [
        document.problem(tuple(error.absolute_path), f"schema: {error.message}")
        for error in validator.iter_errors(document.data)
    ]

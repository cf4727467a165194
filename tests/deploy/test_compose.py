"""deploy/compose.yaml: valid for the Compose Specification, hardened, registry kept internal."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gatekeeper.config import Limits
from gatekeeper.policy.loader import check_paths
from tests.helpers.processes import REPO_ROOT

COMPOSE = REPO_ROOT / "deploy" / "compose.yaml"
SCHEMA = REPO_ROOT / "tests" / "assets" / "compose" / "compose-spec.json"  # see SOURCE.md
DOC: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
SERVICES: dict[str, Any] = DOC["services"]


def test_matches_the_compose_specification_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(DOC), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_rejects_what_it_should() -> None:
    schema = json.loads(SCHEMA.read_text())
    bad = {"services": {"gatekeeper": {"image": "x", "read_only": "maybe", "colour": "red"}}}
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(bad))) >= 1


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_is_hardened(name: str) -> None:
    service = SERVICES[name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["pids_limit"] > 0
    limits = service["deploy"]["resources"]["limits"]
    assert limits["cpus"] and limits["memory"]
    assert "privileged" not in service
    assert service.get("network_mode") is None


def test_gatekeeper_runs_as_the_image_user_with_file_secrets() -> None:
    gatekeeper = SERVICES["gatekeeper"]
    assert gatekeeper["user"] == "10001:10001"
    assert any(t.startswith("/tmp:") for t in gatekeeper["tmpfs"])
    env = gatekeeper["environment"]
    secrets = {s["source"] for s in gatekeeper["secrets"]}
    assert env["GATEKEEPER_TLS_CERT"] == "/run/secrets/tls.crt"
    assert env["GATEKEEPER_TLS_KEY"] == "/run/secrets/tls.key"
    assert secrets == {"tls.crt", "tls.key"}
    assert all("file" in s for s in DOC["secrets"].values())
    assert not any(re.search(r"(?i)password|token|secret", k) for k in env)
    grace = int(gatekeeper["stop_grace_period"].rstrip("s"))
    assert grace > Limits().shutdown_grace


@pytest.mark.parametrize("name", ["registry", "redis"])
def test_backends_are_only_on_the_internal_network(name: str) -> None:
    assert DOC["networks"]["back"]["internal"] is True
    assert SERVICES[name]["networks"] == ["back"]
    assert "ports" not in SERVICES[name]
    assert set(SERVICES["gatekeeper"]["networks"]) == {"front", "back"}


def test_policy_config_is_a_valid_policy() -> None:
    path = (COMPOSE.parent / DOC["configs"]["policy"]["file"]).resolve()
    assert check_paths([Path(path)]) == []

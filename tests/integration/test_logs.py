"""``--log-format json``: every line gatekeeper writes parses, and request lines carry the id."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.helpers.processes import Process, running, start_gatekeeper

POLICY = 'rules: [{name: closed, repositories: ["**"], action: deny}]\n'


def test_json_log_parses_line_by_line_with_request_ids(tmp_path: Path, registry: Process) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    gate = start_gatekeeper(
        tmp_path,
        registry.url,
        policy,
        "--access-log",
        "--log-format",
        "json",
        "--log-level",
        "DEBUG",  # levels are case-insensitive
    )
    with running(gate):
        refused = requests.get(
            f"{gate.url}/v2/any/thing/manifests/1.0",
            headers={"X-Request-Id": "trace-1", "Authorization": "Bearer s3cret"},
            timeout=10,
        )
        assert refused.status_code == 403
        assert refused.headers["X-Request-Id"] == "trace-1"
        assert requests.get(f"{gate.url}/v2/_catalog", timeout=10).ok
    text = gate.log()
    assert "s3cret" not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    decisions = [line for line in lines if "schema_version" in line]
    assert [(d["schema_version"], d["outcome"], d["request_id"]) for d in decisions] == [
        (1, "deny", "trace-1")
    ]
    logs = [line for line in lines if "schema_version" not in line]
    assert {"time", "level", "logger", "message"} <= set(logs[0])
    assert any(line["message"].startswith("gatekeeper listening on") for line in logs)
    access = [
        line for line in logs if line["logger"] == "gatekeeper.access" and "/v2/" in line["message"]
    ]
    assert len(access) == 2
    assert access[0]["request_id"] == "trace-1"
    assert access[1]["request_id"] not in ("", "trace-1")
    # Lines logged outside any request carry no request id.
    assert all("request_id" not in line for line in logs if line["logger"] == "gatekeeper")

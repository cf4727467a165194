"""Docker security checklist rules checked from each image's config, through gatekeeper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import images
from tests.helpers.processes import Process, start_gatekeeper

POLICY = """
rules:
  - name: hardened
    repositories: ["hardened/**"]
    image:
      user: non-root
      forbid_secrets_in_env: true
      require_healthcheck: true
      forbid_add_from_url: true
      required_labels: [org.opencontainers.image.source]
"""
GOOD: dict[str, Any] = {
    "User": "65532:65532",
    "Env": ["PATH=/usr/bin", "DB_PASSWORD_FILE=/run/secrets/db"],
    "Healthcheck": {"Test": ["CMD", "/healthz"]},
    "Labels": {"org.opencontainers.image.source": "https://git.example/app"},
}


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("image-rules")
    (work / "policy.yaml").write_text(POLICY)
    process = start_gatekeeper(work, registry.url, work / "policy.yaml")
    yield process
    process.stop()


def inspect(gate: Process, ref: str) -> tuple[int, str]:
    result = images.skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{gate.host}/{ref}", check=False
    )
    return result.returncode, result.stderr


@pytest.mark.parametrize(
    ("name", "config", "history", "reason"),
    [
        ("good", GOOD, None, None),
        ("root", {**GOOD, "User": ""}, None, "image runs as root (no USER set)"),
        (
            "secret",
            {**GOOD, "Env": ["API_TOKEN=hunter2"]},
            None,
            "secrets baked into the image: ENV API_TOKEN (named like a secret)",
        ),
        (
            "nohealth",
            {k: v for k, v in GOOD.items() if k != "Healthcheck"},
            None,
            "image has no HEALTHCHECK",
        ),
        (
            "addurl",
            GOOD,
            [{"created_by": "ADD https://example.com/tool.tgz /opt/"}],
            "image history adds files from a URL",
        ),
        (
            "nolabel",
            {**GOOD, "Labels": {}},
            None,
            "image lacks required labels: org.opencontainers.image.source",
        ),
    ],
)
def test_image_rules(
    tmp_path: Path,
    registry: Process,
    gate: Process,
    name: str,
    config: dict[str, Any],
    history: list[dict[str, object]] | None,
    reason: str | None,
) -> None:
    img = images.image(f"rules-{name}", config=config, history=history)
    images.push_image(tmp_path, img, f"{registry.host}/hardened/{name}:1.0.0")
    code, err = inspect(gate, f"hardened/{name}:1.0.0")
    if reason is None:
        assert code == 0, err
    else:
        assert code != 0
        assert f"gatekeeper: hardened: {reason}" in err
        assert "hunter2" not in err  # a secret's value is never repeated


def test_an_index_is_judged_by_every_platform(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    amd = images.image("idx-amd", config=GOOD)
    arm = images.image("idx-arm", arch="arm64", config={**GOOD, "User": "root"})
    idx = images.index([amd, arm])
    layout = images.write_layout(tmp_path / "layout", [amd, arm], idx, "m")
    images.push_layout(layout, "m", f"{registry.host}/hardened/multi:1.0.0", all_images=True)
    code, err = inspect(gate, "hardened/multi:1.0.0")
    assert code != 0
    assert "image runs as root (user 'root')" in err

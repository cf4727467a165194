"""Fixtures shared by all tests: real registry and gatekeeper processes."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.processes import Process, start_gatekeeper, start_registry

PERMISSIVE = 'rules: [{name: all, repositories: ["**"]}]\n'


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.fail(f"{binary} is not installed: run the tests through `make test`")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """One CNCF distribution registry for the session (tests use unique repositories)."""
    _need("docker-registry")
    process = start_registry(tmp_path_factory.mktemp("registry"))
    yield process
    process.stop()


@pytest.fixture(scope="session")
def permissive_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "permissive.yaml"
    path.write_text(PERMISSIVE)
    return path


@pytest.fixture(scope="session")
def gatekeeper(
    tmp_path_factory: pytest.TempPathFactory, registry: Process, permissive_policy: Path
) -> Iterator[Process]:
    """gatekeeper with the permissive policy in front of the session registry."""
    process = start_gatekeeper(
        tmp_path_factory.mktemp("gatekeeper"), registry.url, permissive_policy
    )
    yield process
    process.stop()


@pytest.fixture
def repo() -> str:
    """A repository name no other test uses."""
    return f"test/{uuid.uuid4().hex[:10]}"

"""PolicyStore: policy and trust files are watched; a bad reload keeps the policy in force."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.model import Policy
from tests.helpers import cosign_sign

POLICY = """\
rules:
  - name: signed
    repositories: ["team/**"]
    signatures:
      keys: [keys/cosign.pub]
"""


def key_pem() -> bytes:
    return cosign_sign.public_key_pem(ec.generate_private_key(ec.SECP256R1()))


def replace(path: Path, data: bytes) -> None:
    """Replace ``path`` the way editors and ConfigMap updates do: a new file renamed over it."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(data)
    fresh.replace(path)


def key_ids(policy: Policy) -> list[str]:
    signatures = policy.rules[0].signatures
    assert signatures is not None and signatures.material is not None
    return [key.key_id for key in signatures.material.keys]


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/cosign.pub").write_bytes(key_pem())
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def store(policy_file: Path) -> PolicyStore:
    return PolicyStore((policy_file,), load_policy, dry_run=False)


def test_the_key_files_the_policy_names_are_watched(policy_file: Path) -> None:
    policies = store(policy_file)
    assert policies.watched == ((policy_file.parent / "keys/cosign.pub").resolve(),)
    assert not policies.changed()


def test_a_replaced_key_file_triggers_a_reload_that_parses_it(policy_file: Path) -> None:
    policies = store(policy_file)
    before = policies.current
    replace(policy_file.parent / "keys/cosign.pub", key_pem())
    assert policies.changed()
    assert policies.reload()
    assert not policies.changed()
    assert key_ids(policies.current) != key_ids(before)
    assert policies.current.fingerprint != before.fingerprint


def test_an_invalid_key_file_is_refused_and_the_old_policy_stays(
    policy_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policies = store(policy_file)
    before = policies.current
    key = policy_file.parent / "keys/cosign.pub"
    key.write_text("not a key any more\n")  # in place, another size
    assert policies.changed()
    with caplog.at_level(logging.ERROR, "gatekeeper.policy"):
        assert not policies.reload()
    assert policies.current is before
    assert "policy reload refused, keeping the policy in force" in caplog.text
    assert f"rules[0].signatures.keys[0]: {key.resolve()}: not a PEM or DER public key" in (
        caplog.text
    )
    assert not policies.changed()  # refused once; no retry until something changes again
    replace(key, key_pem())  # fixed
    assert policies.changed()
    assert policies.reload()
    assert key_ids(policies.current) != key_ids(before)


def test_a_deleted_key_file_is_refused_and_its_return_retried(policy_file: Path) -> None:
    policies = store(policy_file)
    before = policies.current
    key = policy_file.parent / "keys/cosign.pub"
    pem = key.read_bytes()
    key.unlink()
    assert policies.changed()
    assert not policies.reload()
    assert policies.current is before
    key.write_bytes(pem)
    assert policies.changed()
    assert policies.reload()
    assert policies.current.fingerprint == before.fingerprint  # the same key again


def test_a_key_file_named_by_a_refused_policy_is_watched(policy_file: Path) -> None:
    policies = store(policy_file)
    before = policies.current
    policy_file.write_text(POLICY.replace("keys/cosign.pub", "keys/next.pub"))
    assert policies.changed()
    assert not policies.reload()  # keys/next.pub does not exist yet
    assert policies.current is before
    assert policies.watched == ((policy_file.parent / "keys/next.pub").resolve(),)
    assert not policies.changed()
    (policy_file.parent / "keys/next.pub").write_bytes(key_pem())
    assert policies.changed()
    assert policies.reload()
    assert key_ids(policies.current) != key_ids(before)


def test_a_comment_reloads_without_changing_the_fingerprint(
    policy_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policies = store(policy_file)
    before = policies.current
    policy_file.write_text("# signed by the release pipeline\n" + POLICY)
    assert policies.changed()
    with caplog.at_level(logging.INFO, "gatekeeper.policy"):
        assert policies.reload()
    assert policies.current is not before
    assert policies.current.fingerprint == before.fingerprint
    assert "policy reloaded, unchanged in effect" in caplog.text


def test_untouched_files_do_not_reload(policy_file: Path) -> None:
    policies = store(policy_file)
    key = policy_file.parent / "keys/cosign.pub"
    os.utime(key, ns=(key.stat().st_atime_ns + 10**9, key.stat().st_mtime_ns))  # atime only
    policy_file.read_text()
    assert not policies.changed()


def test_dry_run_survives_a_reload(policy_file: Path) -> None:
    policies = PolicyStore((policy_file,), load_policy, dry_run=True)
    replace(policy_file.parent / "keys/cosign.pub", key_pem())
    assert policies.reload()
    assert policies.current.forced_dry_run
    assert policies.current.trust_files == load_policy([policy_file]).trust_files


async def test_watch_reloads_when_a_key_file_changes(policy_file: Path) -> None:
    policies = store(policy_file)
    before = policies.current
    watcher = asyncio.create_task(policies.watch(0.01))
    try:
        replace(policy_file.parent / "keys/cosign.pub", key_pem())
        async with asyncio.timeout(5):
            while policies.current is before:
                await asyncio.sleep(0.01)
    finally:
        watcher.cancel()
    assert key_ids(policies.current) != key_ids(before)


def test_trust_files_in_a_policy_directory_are_watched(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "root.pub").write_bytes(key_pem())
    (tmp_path / "d/10-a.yaml").write_text(
        "rules: [{name: a, repositories: [a], signatures: {keys: [../root.pub]}}]\n"
    )
    (tmp_path / "d/20-b.yaml").write_text(
        "rules: [{name: b, repositories: [b], signatures: {keys: [../root.pub]}}]\n"
    )
    policies = PolicyStore((tmp_path / "d",), load_policy, dry_run=False)
    assert policies.watched == ((tmp_path / "root.pub").resolve(),)  # named twice, watched once
    replace(tmp_path / "root.pub", key_pem())
    assert policies.changed()

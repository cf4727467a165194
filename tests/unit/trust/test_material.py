"""Loading a SignaturePolicy's trust material, and its fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.errors import TrustError
from gatekeeper.trust.material import load_trust_material
from gatekeeper.trust.trusted_root import production_trusted_root
from tests.unit.trust.conftest import COSIGN, fixture_trusted_root_bytes


@pytest.fixture
def root_file(tmp_path: Path) -> Path:
    path = tmp_path / "trusted_root.json"
    path.write_bytes(fixture_trusted_root_bytes())
    return path


def test_keys_and_root_load(root_file: Path) -> None:
    policy = SignaturePolicy(
        keys=(COSIGN / "cosign.pub", COSIGN / "cosign2.pub"), trusted_root=root_file
    )
    material = load_trust_material(policy)
    assert [key.source for key in material.keys] == [str(p) for p in policy.keys]
    assert material.root.source == str(root_file)
    assert material.key_ids == ", ".join(key.short_id for key in material.keys)


def test_default_root_is_production() -> None:
    material = load_trust_material(SignaturePolicy())
    assert material.root is production_trusted_root()
    assert material.keys == ()
    assert material.key_ids == "none"


def test_fingerprint_follows_the_material(root_file: Path, tmp_path: Path) -> None:
    one = SignaturePolicy(keys=(COSIGN / "cosign.pub",), trusted_root=root_file)
    same = load_trust_material(one).fingerprint
    assert load_trust_material(one).fingerprint == same
    copy = tmp_path / "copy.pub"
    copy.write_bytes((COSIGN / "cosign.pub").read_bytes())
    duplicated = SignaturePolicy(keys=(COSIGN / "cosign.pub", copy), trusted_root=root_file)
    deduped = load_trust_material(duplicated)
    assert len(deduped.keys) == 1  # the same key twice is one signer, not two
    assert deduped.fingerprint == same
    two = SignaturePolicy(
        keys=(COSIGN / "cosign.pub", COSIGN / "cosign2.pub"), trusted_root=root_file
    )
    assert load_trust_material(two).fingerprint != same
    production = SignaturePolicy(keys=(COSIGN / "cosign.pub",))
    assert load_trust_material(production).fingerprint != same


def test_unusable_files_are_trust_errors(tmp_path: Path, root_file: Path) -> None:
    with pytest.raises(TrustError, match=r"missing\.pub"):
        load_trust_material(SignaturePolicy(keys=(tmp_path / "missing.pub",)))
    with pytest.raises(TrustError, match="cannot read trusted root"):
        load_trust_material(SignaturePolicy(trusted_root=tmp_path / "none.json"))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{}")
    with pytest.raises(TrustError, match="not a Sigstore trusted root"):
        load_trust_material(SignaturePolicy(trusted_root=garbage))

"""Importing a Notation trustpolicy.json and trust store directory (the specification's own
example 2, tests/assets/notation/trustpolicy.json)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.errors import GatekeeperError
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.notation import NotationLevel, NotationTrustPolicy
from tests.helpers import notation_sign as ns

EXAMPLE = Path(__file__).parents[2] / "assets/notation/trustpolicy.json"
WABBIT, ACME, ACME2 = ns.make_ca("Wabbit Root"), ns.make_ca("Acme Root"), ns.make_ca("Acme 2")
REGISTRY = "registry.acme-rockets.io"


def _config(tmp_path: Path, document: dict[str, Any] | None = None) -> Path:
    config = tmp_path / "notation"
    config.mkdir(exist_ok=True)
    if document is None:
        shutil.copy(EXAMPLE, config / "trustpolicy.json")
    else:
        (config / "trustpolicy.json").write_text(json.dumps(document))
    store = config / "truststore"
    ns.write_trust_store(store, "ca", "wabbit-networks", WABBIT.chain[0])
    ns.write_trust_store(store, "ca", "acme-rockets", ACME.chain[0])
    ns.write_trust_store(store, "ca", "acme-rockets-ca2", ACME2.chain[0])
    return config


def _load(tmp_path: Path, notation: str) -> NotationTrustPolicy:
    (tmp_path / "p.yaml").write_text(
        "rules:\n  - name: a\n    repositories: ['**']\n    signatures:\n"
        f"      notation: {notation}\n"
    )
    policy = load_policy([tmp_path / "p.yaml"])
    part = policy.rules[0].signatures.notation  # type: ignore[union-attr]
    assert part is not None and part.trust_policy is not None
    return part.trust_policy


def test_the_specification_example_compiles(tmp_path: Path) -> None:
    _config(tmp_path)
    imported = _load(tmp_path, f"{{trust_policy: notation/trustpolicy.json, registry: {REGISTRY}}}")
    names = [s.name for s in imported.statements]
    assert names == [
        "wabbit-networks-images",
        "unsigned-image",
        "use-expired-image",
        "global-policy-for-all-other-images",
    ]
    wabbit, skip, expired, global_ = imported.statements
    assert wabbit.policy is not None and wabbit.policy.material is not None
    assert wabbit.policy.material.ca == WABBIT.chain[:1]
    assert wabbit.policy.level is NotationLevel.STRICT
    assert skip.policy is None
    assert expired.policy is not None and not expired.policy.enforces("expiry")
    assert expired.policy.enforces("authenticTimestamp")
    assert global_.policy is not None and global_.policy.level is NotationLevel.AUDIT
    assert set(global_.policy.material.ca) == {ACME.chain[0], ACME2.chain[0]}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("repository", "statement", "required"),
    [
        ("software/net-monitor", "wabbit-networks-images", 1),
        ("software/net-logger", "wabbit-networks-images", 1),
        ("software/legacy/metrics", "use-expired-image", 1),
        ("software/other", "global-policy-for-all-other-images", 0),
        ("registry.wabbit-networks.io/software/unsigned/net-utils", "unsigned-image", 0),
        ("registry.acme-rockets.io/software/net-monitor", "wabbit-networks-images", 1),
        ("library/alpine", "global-policy-for-all-other-images", 0),
    ],
)
def test_statements_are_selected_by_qualified_repository(
    tmp_path: Path, repository: str, statement: str, required: int
) -> None:
    _config(tmp_path)
    imported = _load(tmp_path, f"{{trust_policy: notation/trustpolicy.json, registry: {REGISTRY}}}")
    chosen = imported.select(repository)
    assert chosen is not None and chosen.name == statement
    assert imported.signers_required(repository) == required


def test_no_statement_applies_without_a_global_one(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["trustPolicies"] = doc["trustPolicies"][:1]
    _config(tmp_path, doc)
    imported = _load(tmp_path, f"{{trust_policy: notation/trustpolicy.json, registry: {REGISTRY}}}")
    assert imported.select("software/other") is None
    assert imported.signers_required("software/other") == 1


def test_trust_store_dir_may_be_elsewhere(tmp_path: Path) -> None:
    config = _config(tmp_path)
    shutil.move(config / "truststore", tmp_path / "stores")
    imported = _load(
        tmp_path,
        "{trust_policy: notation/trustpolicy.json, trust_store_dir: stores,"
        f" registry: {REGISTRY}}}",
    )
    assert len(imported.statements) == 4


def _edit(path: str, value: object) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text())
    target: Any = doc
    keys = path.split("/")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last: Any = int(keys[-1]) if isinstance(target, list) else keys[-1]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("version", "2.0", '$.version: must be "1.0"'),
        ("trustPolicies", [], "$.trustPolicies: must be a non-empty list"),
        (
            "trustPolicies/0/trustStores/0",
            "ca:missing",
            "$.trustPolicies[0].trustStores[0]: named store",
        ),
        ("trustPolicies/0/trustStores/0", "x509:wabbit-networks", "is not ca:<name>"),
        ("trustPolicies/0/trustStores/0", "ca:../acme-rockets", "is not ca:<name>"),
        (
            "trustPolicies/0/trustedIdentities/0",
            "x509.subject: CN=x",
            "$.trustPolicies[0].trustedIdentities[0]: invalid trusted identity",
        ),
        (
            "trustPolicies/0/trustedIdentities",
            ["x509.subject: C=US, ST=WA, O=w", "x509.subject: C=US, ST=WA, O=w, CN=b"],
            "$.trustPolicies[0].trustedIdentities[1]: 'x509.subject: C=US, ST=WA, O=w, CN=b'"
            " overlaps",
        ),
        (
            "trustPolicies/0/trustedIdentities",
            ["*", "x509.subject: C=US, ST=WA, O=w"],
            "'*' must be the only",
        ),
        ("trustPolicies/0/registryScopes/0", "net-monitor", "is not a fully qualified repository"),
        (
            "trustPolicies/0/registryScopes/0",
            "registry.acme-rockets.io/*",
            "is not a fully qualified",
        ),
        ("trustPolicies/1/registryScopes", ["*"], "level skip cannot have the global scope"),
        (
            "trustPolicies/2/registryScopes/0",
            "registry.acme-rockets.io/software/net-logger",
            "$.trustPolicies[2].registryScopes: 'registry.acme-rockets.io/software/net-logger'"
            " is also",
        ),
        ("trustPolicies/2/name", "wabbit-networks-images", "is used twice"),
        (
            "trustPolicies/2/signatureVerification/level",
            "lenient",
            "$.trustPolicies[2].signatureVerification.level: must be one of",
        ),
        (
            "trustPolicies/2/signatureVerification/override/authenticity",
            "log",
            "override.authenticity: unsupported override",
        ),
        (
            "trustPolicies/2/signatureVerification/verifyTimestamp",
            "never",
            "verifyTimestamp: must be always",
        ),
        (
            "trustPolicies/1/trustStores",
            ["ca:acme-rockets"],
            "level skip must not list trustStores",
        ),
        (
            "trustPolicies/0/trustStores",
            _DELETE,
            "$.trustPolicies[0].trustStores: must be a non-empty list",
        ),
        ("trustPolicies/0/extra", 1, "$.trustPolicies[0].extra: unknown property"),
    ],
)
def test_problems_name_the_file_and_json_path(
    tmp_path: Path, path: str, value: object, problem: str
) -> None:
    _config(tmp_path, _edit(path, value))
    with pytest.raises(GatekeeperError) as caught:
        _load(tmp_path, f"{{trust_policy: notation/trustpolicy.json, registry: {REGISTRY}}}")
    message = str(caught.value)
    assert "p.yaml:5: rules[0].signatures.notation.trust_policy:" in message
    assert "trustpolicy.json: " in message
    assert problem in message, message


def test_symlinked_named_store_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    ca = config / "truststore/x509/ca"
    shutil.move(ca / "wabbit-networks", tmp_path / "elsewhere")
    (ca / "wabbit-networks").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(GatekeeperError, match="is a symlink"):
        _load(tmp_path, f"{{trust_policy: notation/trustpolicy.json, registry: {REGISTRY}}}")


def test_leaf_in_a_named_store_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    config = _config(tmp_path)
    leaf = ns.make_signer(WABBIT).chain[0]
    ns.write_pem(config / "truststore/x509/ca/wabbit-networks/leaf.crt", leaf)
    with pytest.raises(GatekeeperError, match=r"leaf.crt:1: certificate .* is neither a CA"):
        _load(tmp_path, f"{{trust_policy: notation/trustpolicy.json, registry: {REGISTRY}}}")


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("keys: [k.pub]", "keys cannot be combined with notation.trust_policy"),
        ("threshold: 1", "threshold cannot be combined with notation.trust_policy"),
    ],
)
def test_imported_policy_stands_alone_in_its_rule(tmp_path: Path, extra: str, problem: str) -> None:
    _config(tmp_path)
    (tmp_path / "p.yaml").write_text(
        "rules:\n  - name: a\n    repositories: ['**']\n    signatures:\n"
        f"      notation: {{trust_policy: notation/trustpolicy.json, registry: {REGISTRY}}}\n"
        f"      {extra}\n"
    )
    with pytest.raises(GatekeeperError, match=problem):
        load_policy([tmp_path / "p.yaml"])


def test_import_keys_do_not_mix_with_native_ones(tmp_path: Path) -> None:
    _config(tmp_path)
    with pytest.raises(GatekeeperError, match="trust_store"):
        _load(
            tmp_path,
            "{trust_policy: notation/trustpolicy.json, trust_store: x.pem,"
            f" registry: {REGISTRY}}}",
        )

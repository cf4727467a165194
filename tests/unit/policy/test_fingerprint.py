"""The policy fingerprint follows the compiled policy: cosmetic edits keep it, others change it."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.policy.fingerprint import canonical
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.model import Mode, Rule
from tests.helpers.fake_sigstore import FakeSigstore
from tests.unit.trust.conftest import fixture_trusted_root_bytes

KEY_A = ec.generate_private_key(ec.SECP256R1())
KEY_B = ec.generate_private_key(ec.SECP256R1())

POLICY = r"""
mode: enforce
rules:
  - name: signed
    repositories: ["team/**", "apps/*"]
    tags:
      deny: ["latest"]
      allow: ['^v[0-9]+$']
    signatures:
      keys: [keys/a.pub, keys/b.pub]
      keyless:
        - {issuer: "https://issuer.example", subject_regex: "^ci@"}
      threshold: 1
      transparency_log: optional
      trusted_root: keys/root.json
    scan:
      deny_severities: [CRITICAL]
      max_age: 7d
      ignore:
        - {id: CVE-1, reason: not reachable, until: 2030-01-01}
    image:
      user: non-root
      max_size: 500MiB
  - name: official
    repositories: ["library/*"]
  - name: rest
    repositories: ["**"]
    action: deny
"""


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/a.pub").write_bytes(pem(KEY_A))
    (tmp_path / "keys/b.pub").write_bytes(pem(KEY_B))
    (tmp_path / "keys/root.json").write_bytes(fixture_trusted_root_bytes())
    (tmp_path / "policy.yaml").write_text(POLICY)
    return tmp_path


def fingerprint(path: Path) -> str:
    return load_policy([path]).fingerprint


Edit = Callable[[Path], Path]  # changes files under the work dir; returns the policy to load


def text_edit(old: str, new: str, *, count: int = 1) -> Edit:
    def edit(root: Path) -> Path:
        policy = root / "policy.yaml"
        text = policy.read_text()
        assert text.count(old) >= count, old
        policy.write_text(text.replace(old, new, count))
        return policy

    return edit


def whole(text: str) -> Edit:
    def edit(root: Path) -> Path:
        policy = root / "policy.yaml"
        policy.write_text(textwrap.dedent(text))
        return policy

    return edit


def write_file(name: str, data: Callable[[], bytes], then: Edit | None = None) -> Edit:
    def edit(root: Path) -> Path:
        (root / name).write_bytes(data())
        return then(root) if then else root / "policy.yaml"

    return edit


def renamed(root: Path) -> Path:
    moved = root / "renamed.yml"
    (root / "policy.yaml").rename(moved)
    return moved


COSMETIC: list[tuple[str, Edit]] = [
    (
        "comment-at-top",
        text_edit("mode: enforce", "# reviewed by the platform team\nmode: enforce"),
    ),
    ("comment-at-end-of-line", text_edit('deny: ["latest"]', 'deny: ["latest"]  # never latest')),
    ("blank-lines", text_edit("  - name: official", "\n\n  - name: official")),
    ("quote-style", text_edit('deny: ["latest"]', "deny: ['latest']")),
    (
        "flow-style",
        text_edit(
            """tags:
      deny: ["latest"]
      allow: ['^v[0-9]+$']""",
            """tags: {deny: [latest], allow: ['^v[0-9]+$']}""",
        ),
    ),
    (
        "key-order-in-a-mapping",
        text_edit(
            """  - name: official
    repositories: ["library/*"]""",
            """  - repositories: ["library/*"]
    name: official""",
        ),
    ),
    ("default-written-out", text_edit("      threshold: 1\n", "")),
    ("same-duration-other-unit", text_edit("max_age: 7d", "max_age: 168h")),
    ("file-renamed", renamed),
    (
        "key-file-copied-elsewhere",
        write_file(
            "keys/a-copy.pub", lambda: pem(KEY_A), text_edit("keys/a.pub", "keys/a-copy.pub")
        ),
    ),
    ("key-file-as-der", write_file("keys/a.pub", lambda: der(KEY_A))),
    (
        "keys-listed-in-another-order",
        text_edit("[keys/a.pub, keys/b.pub]", "[keys/b.pub, keys/a.pub]"),
    ),
    ("key-file-rewritten-identically", write_file("keys/b.pub", lambda: pem(KEY_B))),
]

SEMANTIC: list[tuple[str, Edit]] = [
    ("mode", text_edit("mode: enforce", "mode: dry-run")),
    ("rule-mode", text_edit("  - name: official\n", "  - name: official\n    mode: dry-run\n")),
    ("tag-glob", text_edit('deny: ["latest"]', 'deny: ["edge"]')),
    ("tag-regex", text_edit("'^v[0-9]+$'", "'^v[0-9]+\\.[0-9]+$'")),
    ("repository-glob", text_edit('"apps/*"', '"apps/**"')),
    ("rule-name", text_edit("name: official", "name: upstream-official")),
    ("threshold", text_edit("threshold: 1", "threshold: 2")),
    ("transparency-log", text_edit("transparency_log: optional", "transparency_log: required")),
    ("keyless-subject", text_edit('"^ci@"', '"^release@"')),
    ("key-dropped", text_edit("[keys/a.pub, keys/b.pub]", "[keys/a.pub]")),
    ("key-file-replaced-with-another-key", write_file("keys/a.pub", lambda: pem(KEY_B))),
    (
        "trusted-root-replaced",
        write_file("keys/root.json", lambda: FakeSigstore().trusted_root()),
    ),
    ("trusted-root-dropped", text_edit("      trusted_root: keys/root.json\n", "")),
    ("severities", text_edit("deny_severities: [CRITICAL]", "deny_severities: [CRITICAL, HIGH]")),
    ("scan-age", text_edit("max_age: 7d", "max_age: 8d")),
    ("ignore-until", text_edit("until: 2030-01-01", "until: 2030-01-02")),
    ("image-user", text_edit("user: non-root", "user: any")),
    ("image-size", text_edit("max_size: 500MiB", "max_size: 500MB")),
    (
        "rule-order",
        text_edit(
            """  - name: official
    repositories: ["library/*"]
  - name: rest
    repositories: ["**"]
    action: deny""",
            """  - name: rest
    repositories: ["**"]
    action: deny
  - name: official
    repositories: ["library/*"]""",
        ),
    ),
    (
        "rule-added",
        text_edit("  - name: rest", "  - name: extra\n    repositories: [x]\n  - name: rest"),
    ),
]


@pytest.mark.parametrize("edit", [edit for _, edit in COSMETIC], ids=[i for i, _ in COSMETIC])
def test_cosmetic_edits_keep_the_fingerprint(workdir: Path, edit: Edit) -> None:
    before = load_policy([workdir / "policy.yaml"])
    after = load_policy([edit(workdir)])
    assert after.fingerprint == before.fingerprint
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", after.fingerprint)


@pytest.mark.parametrize("edit", [edit for _, edit in SEMANTIC], ids=[i for i, _ in SEMANTIC])
def test_semantic_edits_change_the_fingerprint(workdir: Path, edit: Edit) -> None:
    before = fingerprint(workdir / "policy.yaml")
    assert fingerprint(edit(workdir)) != before


def test_the_fingerprint_is_stable_across_loads(workdir: Path) -> None:
    assert fingerprint(workdir / "policy.yaml") == fingerprint(workdir / "policy.yaml")


def test_rules_split_across_files_fingerprint_like_one_file(workdir: Path) -> None:
    single = whole(
        """\
        rules:
          - {name: a, repositories: [a], tags: {deny: [latest]}}
          - {name: b, repositories: [b]}
        """
    )(workdir)
    split = workdir / "split"
    split.mkdir()
    (split / "10-a.yaml").write_text(
        "rules: [{name: a, repositories: [a], tags: {deny: [latest]}}]\n"
    )
    (split / "20-b.yaml").write_text("# the rest\nrules: [{name: b, repositories: [b]}]\n")
    assert fingerprint(split) == fingerprint(single)


def test_where_a_rule_was_written_is_not_fingerprinted() -> None:
    written_here = Rule("a", ("a",), (re.compile("a"),), source="one.yaml:3")
    written_there = Rule("a", ("a",), (re.compile("a"),), source="two.yaml:9")
    assert canonical(written_here) == canonical(written_there)
    assert canonical(Mode.DRY_RUN) == "dry-run"


def test_a_value_without_a_canonical_form_fails_loudly() -> None:
    with pytest.raises(TypeError, match="no canonical form for float"):
        canonical(1.5)
    with pytest.raises(TypeError, match="no canonical form for frozenset"):
        canonical(frozenset({"a"}))

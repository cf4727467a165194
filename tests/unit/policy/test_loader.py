"""Loading policy files: the compiled model, and every problem with file, line and key."""

from __future__ import annotations

import dataclasses
import re
import shutil
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gatekeeper.errors import ConfigError
from gatekeeper.policy.loader import PolicyError, check_paths, load_policy
from gatekeeper.policy.model import (
    IgnoredVulnerability,
    ImagePolicy,
    KeylessIdentity,
    Mode,
    Policy,
    RuleAction,
    ScanPolicy,
    SignaturePolicy,
    TagPolicy,
)
from gatekeeper.policy.schema import load_schema, schema_problems, schema_validator
from gatekeeper.policy.yamldoc import parse_document
from gatekeeper.trust.keys import load_public_key
from gatekeeper.trust.trusted_root import production_trusted_root
from tests.unit.trust.conftest import fixture_trusted_root_bytes

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory, so problems name short relative paths like ``p.yaml``."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def public_key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load(text: str) -> Policy:
    return load_policy([write("p.yaml", text)])


# ---------------------------------------------------------------- valid documents


def test_permissive_rule_compiles_with_defaults() -> None:
    policy = load('rules: [{name: all, repositories: ["**"]}]\n')
    assert policy.mode is Mode.ENFORCE
    assert policy.sources == ("p.yaml",)
    (rule,) = policy.rules
    assert (rule.name, rule.repositories, rule.action, rule.mode) == (
        "all",
        ("**",),
        RuleAction.ALLOW,
        None,
    )
    assert (rule.tags, rule.signatures, rule.scan, rule.image) == (TagPolicy(), None, None, None)
    assert rule.source == "p.yaml:1"
    assert rule.matches("a/b/c")


def test_every_section_compiles(in_tmp: Path) -> None:
    pem = public_key_pem()
    write("keys/a.pub", pem.decode())
    write("keys/root.json", fixture_trusted_root_bytes().decode())
    policy = load(
        """\
        mode: dry-run
        rules:
          - name: full
            repositories: ["team/*", "ghcr.io/acme/**"]
            mode: enforce
            tags:
              deny: ["Latest", "*-DEV"]
              allow: ['^v[0-9]+$']
              require_digest: true
              immutable: true
            signatures:
              keys: [keys/a.pub]
              keyless:
                - {issuer: "https://accounts.example", subject: dev@example.com}
                - {issuer: "https://token.actions", subject_regex: "^https://github.com/acme/"}
              threshold: 2
              transparency_log: required
              timestamps: required
              trusted_root: keys/root.json
            scan:
              deny_severities: [critical, High, CRITICAL]
              require_verdict: false
              max_age: 12h
              ignore_unfixed: true
              ignore:
                - {id: CVE-2024-1, reason: not reachable, until: 2025-06-30}
                - {id: GHSA-x, reason: vendored}
              scanner: "http://scanner:8080"
            image:
              user: non-root
              forbid_secrets_in_env: true
              forbid_secrets_in_labels: true
              require_healthcheck: true
              max_age: 90d
              forbid_add_from_url: true
              max_size: 500MiB
              max_layers: 40
              trusted_bases: [docker.io/library/alpine]
              required_labels: [org.opencontainers.image.source]
        """
    )
    assert policy.mode is Mode.DRY_RUN
    (rule,) = policy.rules
    assert rule.mode is Mode.ENFORCE
    assert rule.repositories == ("team/*", "ghcr.io/acme/**")
    assert [m.pattern for m in rule.tags.allow] == ["^v[0-9]+$"]
    assert (rule.tags.deny, rule.tags.require_digest, rule.tags.immutable) == (
        ("latest", "*-dev"),
        True,
        True,
    )
    assert rule.signatures is not None
    material = rule.signatures.material
    assert material is not None
    assert [key.key_id for key in material.keys] == [load_public_key(pem, "a").key_id]
    assert material.root.source == str((in_tmp / "keys/root.json").resolve())
    assert dataclasses.replace(rule.signatures, material=None) == SignaturePolicy(
        keys=((in_tmp / "keys/a.pub").resolve(),),
        keyless=(
            KeylessIdentity("https://accounts.example", subject="dev@example.com"),
            KeylessIdentity(
                "https://token.actions", subject_regex=re.compile("^https://github.com/acme/")
            ),
        ),
        threshold=2,
        transparency_log="required",
        timestamps="required",
        trusted_root=(in_tmp / "keys/root.json").resolve(),
    )
    assert rule.scan == ScanPolicy(
        deny_severities=("CRITICAL", "HIGH"),
        require_verdict=False,
        max_age=timedelta(hours=12),
        ignore_unfixed=True,
        ignore=(
            IgnoredVulnerability("CVE-2024-1", "not reachable", date(2025, 6, 30)),
            IgnoredVulnerability("GHSA-x", "vendored", None),
        ),
        scanner="http://scanner:8080",
    )
    assert rule.image == ImagePolicy(
        user="non-root",
        forbid_secrets_in_env=True,
        forbid_secrets_in_labels=True,
        require_healthcheck=True,
        max_age=timedelta(days=90),
        forbid_add_from_url=True,
        max_size_bytes=500 * 1024**2,
        max_layers=40,
        trusted_bases=("docker.io/library/alpine",),
        required_labels=("org.opencontainers.image.source",),
    )


def test_empty_deny_severities_means_verdict_required_but_nothing_blocks() -> None:
    policy = load('rules: [{name: a, repositories: ["**"], scan: {deny_severities: []}}]\n')
    assert policy.rules[0].scan == ScanPolicy(deny_severities=())


def test_trust_material_is_parsed_when_the_policy_compiles(in_tmp: Path) -> None:
    write("k.pub", public_key_pem().decode())
    policy = load(
        """\
        rules:
          - name: keyed
            repositories: [a]
            signatures: {keys: [k.pub]}
          - name: keyless
            repositories: [b]
            signatures: {keyless: [{issuer: "https://i", subject: s}]}
        """
    )
    keyed, keyless = (rule.signatures for rule in policy.rules)
    assert keyed is not None and keyless is not None
    assert keyed.material is not None and keyless.material is not None
    assert [key.source for key in keyed.material.keys] == [str(in_tmp.resolve() / "k.pub")]
    # No trusted_root: Sigstore's production root, from the installed package, read once.
    assert keyed.material.root is keyless.material.root is production_trusted_root()
    assert keyless.material.keys == ()
    assert [(w.path, w.stamp is not None) for w in policy.trust_files] == [
        (in_tmp.resolve() / "k.pub", True)
    ]


def test_deny_rule_compiles() -> None:
    policy = load('rules: [{name: closed, repositories: ["**"], action: deny}]\n')
    assert policy.rules[0].action is RuleAction.DENY
    assert policy.rules[0].needs == frozenset()


def copy_example(root: Path) -> Path:
    """The repository's example policy, beside a freshly generated certs/cosign.pub."""
    (root / "policy").mkdir()
    (root / "certs").mkdir()
    (root / "certs/cosign.pub").write_bytes(public_key_pem())
    return Path(shutil.copy(REPO / "policy/example.yaml", root / "policy/example.yaml"))


def test_example_policy_compiles(in_tmp: Path) -> None:
    policy = load_policy([copy_example(in_tmp).relative_to(in_tmp)])
    assert [(r.name, r.repositories, r.action) for r in policy.rules] == [
        ("team-apps", ("team/**",), RuleAction.ALLOW),
        ("official", ("library/*",), RuleAction.ALLOW),
        ("default-deny", ("**",), RuleAction.DENY),
    ]
    team = policy.rules[0]
    assert team.tags.deny == ("latest",)
    assert team.tags.allow[0].pattern == r"^v?[0-9]+\.[0-9]+\.[0-9]+$"
    assert team.signatures is not None
    assert team.signatures.keys == ((in_tmp / "certs/cosign.pub").resolve(),)
    assert team.scan == ScanPolicy(deny_severities=("CRITICAL",), require_verdict=True)
    assert team.image == ImagePolicy(user="non-root")
    assert team.source == "policy/example.yaml:3"
    assert policy.match("team/a/b") is team
    assert policy.match("library/alpine") is policy.rules[1]
    assert policy.match("library/a/b") is policy.rules[2]


@pytest.mark.skipif(
    not (REPO / "certs/cosign.pub").exists(), reason="certs/cosign.pub not created yet"
)
def test_example_policy_in_repository_loads() -> None:
    assert check_paths([REPO / "policy/example.yaml"]) == []


def test_permissive_policy_in_repository_loads() -> None:
    policy = load_policy([REPO / "policy/permissive.yaml"])
    assert [rule.name for rule in policy.rules] == ["all"]
    assert policy.rules[0].needs == frozenset()


# ---------------------------------------------------------------- the schema


def test_one_schema_file_the_policy_directory_links_to() -> None:
    # Editors find policy/schema.json beside the examples; it is the package's file itself.
    link = REPO / "policy/schema.json"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "gatekeeper/policy/schema.json").resolve()


def test_example_policy_is_valid_under_schema() -> None:
    data = yaml.safe_load((REPO / "policy/example.yaml").read_text())
    assert list(schema_validator().iter_errors(data)) == []
    assert load_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# ---------------------------------------------------------------- invalid documents
# (id, document, problems, schema_rejects): schema_rejects tells whether the JSON schema
# rejects the document too (True), or the check is one the schema cannot express (False).

INVALID = [
    ("empty-file", "", ["p.yaml:1: (document): the file is empty"], None),
    (
        "yaml-syntax",
        "rules:\n  - name: a\n   bad: [\n",
        [
            "p.yaml:3: (document): invalid YAML: expected <block end>,"
            " but found '<block mapping start>'"
        ],
        None,
    ),
    (
        "two-documents",
        "rules: []\n---\nrules: []\n",
        [
            "p.yaml:2: (document): invalid YAML: expected a single document in the stream,"
            " but found another document"
        ],
        None,
    ),
    (
        "not-a-mapping",
        "- a\n",
        ["p.yaml:1: (document): expected a mapping, got a list"],
        True,
    ),
    ("no-rules", "mode: enforce\n", ["p.yaml:1: (document): missing required key 'rules'"], True),
    ("empty-rules", "rules: []\n", ["p.yaml:1: rules: must not be an empty list"], True),
    ("rules-mapping", "rules: {}\n", ["p.yaml:1: rules: expected a list, got a mapping"], True),
    (
        "unknown-file-key",
        'modes: enforce\nrules: [{name: a, repositories: ["**"]}]\n',
        ["p.yaml:1: modes: unknown key 'modes' (did you mean 'mode'?)"],
        True,
    ),
    (
        "unknown-key-no-suggestion",
        'rules: [{name: a, repositories: ["**"], zzz: 1}]\n',
        [
            "p.yaml:1: rules[0].zzz: unknown key 'zzz' (allowed: name, repositories, action,"
            " mode, tags, signatures, scan, image, attestations)"
        ],
        True,
    ),
    (
        "bad-mode",
        'mode: warn\nrules: [{name: a, repositories: ["**"]}]\n',
        ["p.yaml:1: mode: must be one of enforce, dry-run, got 'warn'"],
        True,
    ),
    (
        "rule-problems-all-reported",
        """\
        rules:
          - repositories: ["**"]
            tags: {denied: [x], allow: ['^v[0-9', '^ok$'], require_digest: "yes"}
          - name: ""
            repositories: ["team//x", 5]
            action: maybe
            mode: warn
        """,
        [
            "p.yaml:2: rules[0]: missing required key 'name'",
            "p.yaml:3: rules[0].tags.denied: unknown key 'denied' (did you mean 'deny'?)",
            "p.yaml:3: rules[0].tags.allow[0]: invalid regex: unterminated character set",
            "p.yaml:3: rules[0].tags.require_digest: expected a boolean, got a string",
            "p.yaml:4: rules[1].name: must not be empty",
            "p.yaml:5: rules[1].repositories[0]: invalid repository glob 'team//x':"
            " glob contains an empty path segment ('//')",
            "p.yaml:5: rules[1].repositories[1]: expected a string, got an integer",
            "p.yaml:6: rules[1].action: must be one of allow, deny, got 'maybe'",
            "p.yaml:7: rules[1].mode: must be one of enforce, dry-run, got 'warn'",
        ],
        True,
    ),
    (
        "missing-repositories",
        "rules:\n  - name: a\n",
        ["p.yaml:2: rules[0]: missing required key 'repositories'"],
        True,
    ),
    (
        "empty-repositories",
        "rules:\n  - name: a\n    repositories: []\n",
        ["p.yaml:3: rules[0].repositories: must not be an empty list"],
        True,
    ),
    (
        "bad-globs",
        "rules:\n  - name: a\n    repositories:\n      - team/***\n      - /x\n      - a b\n",
        [
            "p.yaml:4: rules[0].repositories[0]: invalid repository glob 'team/***':"
            " '***' is not a wildcard; use '*' (one segment) or '**' (any number)",
            "p.yaml:5: rules[0].repositories[1]: invalid repository glob '/x':"
            " glob must not start or end with '/'",
            "p.yaml:6: rules[0].repositories[2]: invalid repository glob 'a b':"
            " glob contains whitespace",
        ],
        True,
    ),
    (
        "bad-tag-glob",
        'rules: [{name: a, repositories: ["**"], tags: {deny: ["v[1]"]}}]\n',
        [
            "p.yaml:1: rules[0].tags.deny[0]: invalid tag glob 'v[1]': a tag glob is 1-128"
            " letters, digits, '_', '.', '-' and the wildcards '*' and '?'"
        ],
        True,
    ),
    (
        "deny-rule-with-checks",
        """\
        rules:
          - name: d
            repositories: ["**"]
            action: deny
            tags: {deny: [latest]}
            scan: {}
        """,
        [
            "p.yaml:5: rules[0].tags: a rule with action: deny cannot have 'tags'",
            "p.yaml:6: rules[0].scan: a rule with action: deny cannot have 'scan'",
        ],
        True,
    ),
    (
        "signatures-without-keys",
        'rules: [{name: a, repositories: ["**"], signatures: {threshold: 1}}]\n',
        [
            "p.yaml:1: rules[0].signatures: a signatures section must list at least one key,"
            " keyless identity or notation"
        ],
        True,
    ),
    (
        "signatures-empty-keys",
        'rules: [{name: a, repositories: ["**"], signatures: {keys: []}}]\n',
        ["p.yaml:1: rules[0].signatures.keys: must not be an empty list"],
        True,
    ),
    (
        "signatures-problems",
        """\
        rules:
          - name: t
            repositories: ["**"]
            signatures:
              keys: [k.pub]
              threshold: 0
              transparency_log: always
              keyless:
                - {subject: a}
                - {issuer: i, subject: a, subject_regex: b}
                - {issuer: i}
                - {issuer: i, subject_regex: "(x"}
        """,
        [
            "p.yaml:6: rules[0].signatures.threshold: must be at least 1, got 0",
            "p.yaml:7: rules[0].signatures.transparency_log: must be one of optional,"
            " required, got 'always'",
            "p.yaml:9: rules[0].signatures.keyless[0]: set exactly one of issuer or issuer_regex",
            "p.yaml:10: rules[0].signatures.keyless[1]: set exactly one of subject or"
            " subject_regex",
            "p.yaml:11: rules[0].signatures.keyless[2]: set exactly one of subject or"
            " subject_regex",
            "p.yaml:12: rules[0].signatures.keyless[3].subject_regex: invalid regex:"
            " missing ), unterminated subpattern",
        ],
        True,
    ),
    (
        "missing-key-file",
        'rules: [{name: a, repositories: ["**"], signatures: {keys: [nope.pub]}}]\n',
        [
            "p.yaml:1: rules[0].signatures.keys[0]: cannot read nope.pub ({dir}/nope.pub):"
            " No such file or directory"
        ],
        False,
    ),
    (
        "trusted-root-is-a-directory",
        'rules: [{name: a, repositories: ["**"], signatures: {keys: [k.pub], trusted_root: .}}]\n',
        ["p.yaml:1: rules[0].signatures.trusted_root: cannot read . ({dir}): Is a directory"],
        False,
    ),
    (
        "key-file-is-not-a-key",
        'rules: [{name: a, repositories: ["**"], signatures: {keys: [k.pub, notakey.txt]}}]\n',
        [
            "p.yaml:1: rules[0].signatures.keys[1]: {dir}/notakey.txt: not a PEM or DER"
            " public key (ECDSA P-256/P-384, RSA >= 2048 bits, Ed25519)"
        ],
        False,
    ),
    (
        "key-too-weak",
        'rules: [{name: a, repositories: ["**"], signatures: {keys: [small.pub]}}]\n',
        [
            "p.yaml:1: rules[0].signatures.keys[0]: {dir}/small.pub: RSA key of 1024 bits"
            " is too small"
        ],
        False,
    ),
    (
        "trusted-root-invalid",
        """\
        rules:
          - name: a
            repositories: ["**"]
            signatures:
              keys: [k.pub]
              trusted_root: root.json
        """,
        [
            "p.yaml:6: rules[0].signatures.trusted_root: {dir}/root.json: not a Sigstore"
            " trusted root (application/vnd.dev.sigstore.trustedroot+json;version=0.1)"
        ],
        False,
    ),
    (
        "threshold-above-keys",
        'rules: [{name: a, repositories: ["**"], signatures: {keys: [k.pub], threshold: 2}}]\n',
        [
            "p.yaml:1: rules[0].signatures.threshold: threshold 2 exceeds the number of keys"
            " and identities listed (1)"
        ],
        False,
    ),
    (
        "scan-and-image-problems",
        """\
        rules:
          - name: s
            repositories: ["**"]
            scan:
              deny_severities: [SEVERE, high]
              max_age: 7 days
              ignore:
                - {id: CVE-1}
                - {id: CVE-2, reason: r, until: 2025-02-30}
                - {id: CVE-3, reason: r, until: 2025-1-5}
              scanner: ftp://x
              require_verdict: 1
            image:
              user: root
              max_size: 500M
              max_age: 0
              trusted_bases: docker.io/library
              required_labels: [""]
              max_layers: 0
              forbid_secrets_in_labels: "yes"
        """,
        [
            "p.yaml:5: rules[0].scan.deny_severities[0]: unknown severity 'SEVERE'"
            " (allowed: CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)",
            "p.yaml:6: rules[0].scan.max_age: invalid duration '7 days': write e.g. '7d',"
            " '12h', '30m', '45s' or whole seconds",
            "p.yaml:8: rules[0].scan.ignore[0]: missing required key 'reason'",
            "p.yaml:9: rules[0].scan.ignore[1].until: invalid date '2025-02-30': write YYYY-MM-DD",
            "p.yaml:10: rules[0].scan.ignore[2].until: invalid date '2025-1-5': write YYYY-MM-DD",
            "p.yaml:11: rules[0].scan.scanner: expected an http:// or https:// URL, got 'ftp://x'",
            "p.yaml:12: rules[0].scan.require_verdict: expected a boolean, got an integer",
            "p.yaml:14: rules[0].image.user: must be one of non-root, any, got 'root'",
            "p.yaml:15: rules[0].image.max_size: invalid size '500M': write e.g. '500MiB',"
            " '1GB' or a whole number of bytes",
            "p.yaml:16: rules[0].image.max_age: duration must be at least 1 second, got 0",
            "p.yaml:17: rules[0].image.trusted_bases: expected a list, got a string",
            "p.yaml:18: rules[0].image.required_labels[0]: must not be empty",
            "p.yaml:19: rules[0].image.max_layers: must be at least 1, got 0",
            "p.yaml:20: rules[0].image.forbid_secrets_in_labels: expected a boolean, got a string",
        ],
        True,
    ),
    (
        "unknown-ignore-key",
        'rules: [{name: a, repositories: ["**"],\n'
        "         scan: {ignore: [{id: X, reason: r, untill: x}]}}]\n",
        ["p.yaml:2: rules[0].scan.ignore[0].untill: unknown key 'untill' (did you mean 'until'?)"],
        True,
    ),
    (
        "duplicate-yaml-key",
        'rules:\n  - name: a\n    name: b\n    repositories: ["**"]\n',
        ["p.yaml:3: rules[0].name: duplicate key 'name' (first at line 2)"],
        False,
    ),
    (
        "duplicate-rule-name",
        'rules:\n  - name: a\n    repositories: ["**"]\n  - name: a\n    repositories: [x]\n',
        ["p.yaml:4: rules[1].name: duplicate rule name 'a' (first defined at p.yaml:2)"],
        False,
    ),
    (
        "merge-key-and-custom-tag",
        """\
        rules:
          - &r {name: a, repositories: ["**"]}
          - <<: *r
            name: b
          - name: !secret c
            repositories: ["**"]
        """,
        [
            "p.yaml:3: rules[1]: merge keys ('<<') are not supported",
            "p.yaml:5: rules[2].name: invalid YAML value: could not determine a constructor"
            " for the tag '!secret'",
        ],
        None,
    ),
    (
        "non-string-key",
        'rules: [{name: a, repositories: ["**"], 1: x}]\n',
        ["p.yaml:1: rules[0]: mapping keys must be strings"],
        None,
    ),
    (
        "recursive-alias",
        "rules: &r [*r]\n",
        ["p.yaml:1: rules[0]: recursive YAML alias"],
        None,
    ),
]


@pytest.mark.parametrize(
    ("document", "problems"),
    [(doc, problems) for _, doc, problems, _ in INVALID],
    ids=[case_id for case_id, *_ in INVALID],
)
def test_invalid_document_problems(in_tmp: Path, document: str, problems: list[str]) -> None:
    write("k.pub", public_key_pem().decode())
    write("notakey.txt", "not a key\n")
    weak = rsa.generate_private_key(65537, 1024)  # noqa: S505 - too weak, on purpose
    write("small.pub", public_key_pem(weak).decode())
    write("root.json", "{}")
    path = write("p.yaml", document)
    expected = [problem.format(dir=in_tmp.resolve()) for problem in problems]
    assert check_paths([path]) == expected
    with pytest.raises(PolicyError) as caught:
        load_policy([path])
    assert caught.value.problems == tuple(expected)
    assert isinstance(caught.value, ConfigError)


SCHEMA_CASES = [(doc, rejects) for _, doc, _, rejects in INVALID if rejects is not None]


@pytest.mark.parametrize(
    ("document", "rejects"),
    SCHEMA_CASES,
    ids=[case_id for case_id, *_, rejects in INVALID if rejects is not None],
)
def test_schema_agrees_on_invalid_documents(document: str, rejects: bool) -> None:
    parsed, _ = parse_document(textwrap.dedent(document).encode(), "p.yaml")
    assert parsed is not None
    assert bool(schema_problems(parsed, schema_validator())) is rejects


def test_schema_problems_are_located() -> None:
    parsed, _ = parse_document(b"rules:\n  - name: a\n    repositories: [1]\n", "p.yaml")
    assert parsed is not None
    assert [str(p) for p in schema_problems(parsed, schema_validator())] == [
        "p.yaml:3: rules[0].repositories[0]: schema: 1 is not of type 'string'"
    ]


def test_policy_error_message_lists_problems() -> None:
    with pytest.raises(PolicyError) as caught:
        load("rules: []\nmode: x\n")
    assert caught.value.message == (
        "invalid policy (2 problems)\n"
        "p.yaml:1: rules: must not be an empty list\n"
        "p.yaml:2: mode: must be one of enforce, dry-run, got 'x'"
    )


def test_unreadable_and_missing_paths() -> None:
    Path("empty").mkdir()
    assert check_paths([Path("missing.yaml"), Path("empty")]) == [
        "empty:1: (document): no *.yaml or *.yml files here",
        "missing.yaml:1: (document): cannot read: No such file or directory",
    ]
    assert check_paths([]) == ["no policy files given"]


# ---------------------------------------------------------------- several files


def test_directory_loads_yaml_files_in_name_order() -> None:
    write("d/20-b.yaml", "rules: [{name: b, repositories: [b]}]\n")
    write("d/10-a.yml", "rules: [{name: a, repositories: [a]}]\n")
    write("d/.hidden.yaml", "not: [valid\n")
    write("d/notes.txt", "not yaml")
    write("d/sub/30-c.yaml", "rules: [{name: c, repositories: [c]}]\n")
    write("extra.yaml", "rules: [{name: z, repositories: [z]}]\n")
    policy = load_policy([Path("d"), Path("extra.yaml")])
    assert [rule.name for rule in policy.rules] == ["a", "b", "z"]
    assert policy.sources == ("d/10-a.yml", "d/20-b.yaml", "extra.yaml")
    assert [rule.source for rule in policy.rules] == [
        "d/10-a.yml:1",
        "d/20-b.yaml:1",
        "extra.yaml:1",
    ]


def test_duplicate_rule_names_across_files() -> None:
    write("d/a.yaml", "rules:\n  - {name: same, repositories: [a]}\n")
    write(
        "d/b.yaml",
        "rules:\n  - {name: other, repositories: [b]}\n  - {name: same, repositories: [c]}\n",
    )
    assert check_paths([Path("d")]) == [
        "d/b.yaml:3: rules[1].name: duplicate rule name 'same' (first defined at d/a.yaml:2)"
    ]


def test_problems_of_every_file_are_reported() -> None:
    write("d/a.yaml", "rules: []\n")
    write("d/b.yaml", "rules: [{name: x}]\n")
    assert check_paths([Path("d")]) == [
        "d/a.yaml:1: rules: must not be an empty list",
        "d/b.yaml:1: rules[0]: missing required key 'repositories'",
    ]


MODES = [
    # (mode line of a.yaml, of b.yaml, resulting mode or problem)
    (None, None, Mode.ENFORCE),
    ("dry-run", None, Mode.DRY_RUN),
    (None, "dry-run", Mode.DRY_RUN),
    ("dry-run", "dry-run", Mode.DRY_RUN),
    ("enforce", "enforce", Mode.ENFORCE),
    (
        "enforce",
        "dry-run",
        "d/b.yaml:1: mode: mode 'dry-run' conflicts with mode 'enforce' set at d/a.yaml:1;"
        " set mode in one file or make them agree",
    ),
]


@pytest.mark.parametrize(
    ("mode_a", "mode_b", "expected"), MODES, ids=[f"{a}+{b}" for a, b, _ in MODES]
)
def test_mode_across_files(mode_a: str | None, mode_b: str | None, expected: object) -> None:
    for name, mode in (("a", mode_a), ("b", mode_b)):
        header = f"mode: {mode}\n" if mode else ""
        write(f"d/{name}.yaml", f"{header}rules: [{{name: {name}, repositories: [{name}]}}]\n")
    if isinstance(expected, Mode):
        assert load_policy([Path("d")]).mode is expected
    else:
        assert check_paths([Path("d")]) == [expected]

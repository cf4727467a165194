"""Compiling ``signatures.notation``: trust stores parsed at load, identities, threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.errors import GatekeeperError
from gatekeeper.policy.loader import load_policy
from gatekeeper.policy.notation import IdentityError, NotationLevel, parse_identity
from tests.helpers import notation_sign as ns

CA = ns.make_ca()


def _load(tmp_path: Path, signatures: str) -> object:
    ns.write_pem(tmp_path / "ca.pem", CA.chain[0])
    (tmp_path / "p.yaml").write_text(
        "rules:\n  - name: a\n    repositories: ['**']\n    signatures:\n" + signatures
    )
    return load_policy([tmp_path / "p.yaml"])


def test_notation_compiles_with_parsed_certificates(tmp_path: Path) -> None:
    policy = _load(
        tmp_path,
        "      notation:\n        trust_store: ca.pem\n"
        "        trusted_identities: ['x509.subject: C=US, ST=WA, O=Acme, CN=release']\n",
    )
    sig = policy.rules[0].signatures  # type: ignore[attr-defined]
    assert sig.notation.level is NotationLevel.STRICT
    assert sig.notation.material.ca == CA.chain[:1]
    assert sig.threshold == 1


def test_audit_only_counts_no_signers(tmp_path: Path) -> None:
    policy = _load(
        tmp_path,
        "      notation: {trust_store: [ca.pem], trusted_identities: ['*'], level: audit}\n",
    )
    assert policy.rules[0].signatures.threshold == 0  # type: ignore[attr-defined]


def test_fingerprint_follows_trust_store_content(tmp_path: Path) -> None:
    text = "      notation: {trust_store: ca.pem, trusted_identities: ['*']}\n"
    first = _load(tmp_path, text).fingerprint  # type: ignore[attr-defined]
    global CA
    CA = ns.make_ca()
    second = _load(tmp_path, text).fingerprint  # type: ignore[attr-defined]
    assert first != second


@pytest.mark.parametrize(
    ("signatures", "problem"),
    [
        (
            "      notation: {trust_store: missing.pem, trusted_identities: ['*']}\n",
            "p.yaml:5: rules[0].signatures.notation.trust_store: cannot read missing.pem",
        ),
        (
            "      notation: {trust_store: p.yaml, trusted_identities: ['*']}\n",
            "not a DER certificate",
        ),
        (
            "      notation: {trust_store: ca.pem, trusted_identities: ['x509.subject: CN=x']}\n",
            "must name C, ST (or S) and O",
        ),
        (
            "      notation:\n        trust_store: ca.pem\n        trusted_identities:\n"
            "          - 'x509.subject: C=US, ST=WA, O=Acme'\n"
            "          - 'x509.subject: C=US, ST=WA, O=Acme, CN=b'\n",
            "p.yaml:9: rules[0].signatures.notation.trusted_identities[1]: trusted identity",
        ),
        (
            "      notation: {trust_store: ca.pem, trusted_identities: ['*'], level: skip}\n",
            "level",
        ),
        (
            "      notation: {trust_store: ca.pem, trusted_identities: ['*'], level: audit}\n"
            "      threshold: 1\n",
            "threshold 1 exceeds",
        ),
        (
            "      keys: []\n      notation: {trust_store: ca.pem, trusted_identities: ['*']}\n"
            "      threshold: 3\n",
            "threshold 3 exceeds",
        ),
    ],
)
def test_problems(tmp_path: Path, signatures: str, problem: str) -> None:
    with pytest.raises(GatekeeperError) as caught:
        _load(tmp_path, signatures)
    assert problem in str(caught.value)


def test_bad_pem_block_names_its_line(tmp_path: Path) -> None:
    pem = CA.chain[0].public_bytes(ns.serialization.Encoding.PEM)
    (tmp_path / "bad.pem").write_bytes(
        pem + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    (tmp_path / "p.yaml").write_text(
        "rules:\n  - name: a\n    repositories: ['**']\n    signatures:\n"
        "      notation: {trust_store: bad.pem, trusted_identities: ['*']}\n"
    )
    with pytest.raises(GatekeeperError, match=r"bad.pem:\d+: not a valid certificate"):
        load_policy([tmp_path / "p.yaml"])


def test_trust_store_refuses_a_leaf_that_is_neither_ca_nor_self_signed(tmp_path: Path) -> None:
    leaf = ns.make_signer(CA).chain[0]
    pem = CA.chain[0].public_bytes(ns.serialization.Encoding.PEM)
    (tmp_path / "mixed.pem").write_bytes(
        b"# roots\n" + pem + leaf.public_bytes(ns.serialization.Encoding.PEM)
    )
    (tmp_path / "leaf.der").write_bytes(leaf.public_bytes(ns.serialization.Encoding.DER))
    for name, line in (("mixed.pem", pem.count(b"\n") + 2), ("leaf.der", 1)):
        (tmp_path / "p.yaml").write_text(
            "rules:\n  - name: a\n    repositories: ['**']\n    signatures:\n"
            f"      notation: {{trust_store: {name}, trusted_identities: ['*']}}\n"
        )
        with pytest.raises(GatekeeperError) as caught:
            load_policy([tmp_path / "p.yaml"])
        message = str(caught.value)
        assert "p.yaml:5: rules[0].signatures.notation.trust_store:" in message
        assert f"{name}:{line}: certificate 'CN=release,O=Acme,ST=WA,C=US' is neither" in message


def test_trust_store_accepts_a_self_signed_leaf(tmp_path: Path) -> None:
    """notation-go's own test vectors sign with self-signed leaves kept as their roots."""
    vector = Path(__file__).parents[2] / "assets/notation/jws_signature.sig"
    from gatekeeper.trust.notation.envelope import JWS_MEDIA_TYPE, parse_envelope

    der = parse_envelope(JWS_MEDIA_TYPE, vector.read_bytes(), 4).certificates[-1]
    (tmp_path / "alpine.crt").write_bytes(der)
    (tmp_path / "p.yaml").write_text(
        "rules:\n  - name: a\n    repositories: ['**']\n    signatures:\n"
        "      notation: {trust_store: alpine.crt, trusted_identities: ['*']}\n"
    )
    load_policy([tmp_path / "p.yaml"])


@pytest.mark.parametrize(
    ("text", "attributes"),
    [
        ("x509.subject: C=US, ST=WA, O=Acme", {"C": "US", "ST": "WA", "O": "Acme"}),
        ("x509.subject: C=US, S=WA, O=Acme\\, Inc.", {"C": "US", "ST": "WA", "O": "Acme, Inc."}),
        ("x509.subject: C=US,ST=WA,O=\\ x\\ ", {"C": "US", "ST": "WA", "O": " x "}),
    ],
)
def test_identity_parsing(text: str, attributes: dict[str, str]) -> None:
    assert dict(parse_identity(text).attributes) == attributes


@pytest.mark.parametrize(
    "text",
    [
        "CN=x",
        "x509.subject: C=US, ST=WA",
        "x509.subject: C=US,, ST=WA, O=x",
        "x509.subject: C=US+ST=WA, O=x",
        "x509.subject: C=US, C=UK, ST=WA, O=x",
        "x509.subject: C=US, ST=WA, O=x, XX=y",
    ],
)
def test_bad_identities(text: str) -> None:
    with pytest.raises(IdentityError):
        parse_identity(text)

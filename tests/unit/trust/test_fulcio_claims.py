"""Fulcio certificate claims: read from a real GitHub Actions certificate, matched by policy."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cryptography import x509

from gatekeeper.policy.model import ClaimMatcher, KeylessIdentity
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.fulcio_claims import CLAIM_NAMES, claim
from gatekeeper.trust.identity import match_identity
from tests.helpers.fake_sigstore import FakeSigstore

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "provenance"
GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
ARC = "1.3.6.1.4.1.57264.1."


def real_certificate() -> x509.Certificate:
    """The Fulcio leaf of npm sigstore@3.1.0's provenance (tests/assets/provenance)."""
    bundle = json.loads((ASSETS / "sigstore-3.1.0.sigstore.json").read_bytes())
    raw = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"]
    return x509.load_der_x509_certificate(base64.b64decode(raw))


REAL = real_certificate()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("build_signer_uri", WORKFLOW),
        ("build_signer_digest", "06cd267cbdc2eeaa04294995622db9f6ad2fa7cf"),
        ("runner_environment", "github-hosted"),
        ("source_repository_uri", "https://github.com/sigstore/sigstore-js"),
        ("source_repository_ref", "refs/heads/main"),
        ("source_repository_owner_uri", "https://github.com/sigstore"),
        ("build_trigger", "push"),
        ("source_repository_visibility_at_signing", "public"),
        ("github_workflow_trigger", "push"),
        ("github_workflow_name", "Release"),
        ("github_workflow_repository", "sigstore/sigstore-js"),
        ("github_workflow_ref", "refs/heads/main"),
    ],
)
def test_claims_of_a_real_github_actions_certificate(name: str, value: str) -> None:
    assert claim(REAL, name) == value


def test_every_claim_name_reads_the_real_certificate() -> None:
    assert all(claim(REAL, name) for name in CLAIM_NAMES)


def identity(*claims: ClaimMatcher, issuer: str | None = GITHUB) -> KeylessIdentity:
    return KeylessIdentity(issuer, subject=WORKFLOW, claims=claims)


def test_a_hosted_runner_building_main_matches() -> None:
    policy = identity(
        ClaimMatcher("source_repository_uri", "https://github.com/sigstore/sigstore-js"),
        ClaimMatcher("source_repository_ref", "refs/heads/main"),
        ClaimMatcher("runner_environment", "github-hosted"),
        ClaimMatcher("build_trigger", regex=re.compile("push|release")),
    )
    assert match_identity(REAL, [policy]) == f"{GITHUB} {WORKFLOW}"


@pytest.mark.parametrize(
    ("matcher", "reason"),
    [
        (
            ClaimMatcher("source_repository_ref", "refs/tags/v1"),
            "claim source_repository_ref is 'refs/heads/main', the policy wants"
            " source_repository_ref 'refs/tags/v1'",
        ),
        (
            ClaimMatcher("runner_environment", "self-hosted"),
            "claim runner_environment is 'github-hosted'",
        ),
        (
            ClaimMatcher("source_repository_uri", regex=re.compile(r"https://github\.com/acme/.*")),
            "the policy wants source_repository_uri ~ 'https://github\\\\.com/acme/.*'",
        ),
    ],
)
def test_a_claim_mismatch_refuses_and_says_which(matcher: ClaimMatcher, reason: str) -> None:
    with pytest.raises(SignatureRejected) as raised:
        match_identity(REAL, [identity(matcher)])
    assert reason in raised.value.message


def test_a_claim_the_certificate_lacks_refuses() -> None:
    fake = FakeSigstore()
    leaf = fake.issue(san=x509.UniformResourceIdentifier(WORKFLOW), issuer=GITHUB)
    with pytest.raises(SignatureRejected, match="claim runner_environment is absent"):
        match_identity(leaf.cert, [identity(ClaimMatcher("runner_environment", "github-hosted"))])


def test_legacy_extensions_answer_for_their_v2_claims() -> None:
    fake = FakeSigstore()
    leaf = fake.issue(
        san=x509.UniformResourceIdentifier(WORKFLOW),
        issuer=GITHUB,
        claims={f"{ARC}6": "refs/heads/main", f"{ARC}2": "push"},
    )
    assert claim(leaf.cert, "source_repository_ref") == "refs/heads/main"
    assert claim(leaf.cert, "build_trigger") == "push"
    assert claim(leaf.cert, "source_repository_uri") is None


def test_a_certificate_disagreeing_with_itself_is_refused() -> None:
    fake = FakeSigstore()
    leaf = fake.issue(
        san=x509.UniformResourceIdentifier(WORKFLOW),
        issuer=GITHUB,
        claims={f"{ARC}14": "refs/heads/main", f"{ARC}6": "refs/heads/dev"},
    )
    with pytest.raises(SignatureRejected, match="two values for source_repository_ref"):
        claim(leaf.cert, "source_repository_ref")


def test_issuer_regex_matches_in_full() -> None:
    policy = KeylessIdentity(
        None, subject=WORKFLOW, issuer_regex=re.compile(r"https://token\.actions\..*")
    )
    assert match_identity(REAL, [policy]).startswith(GITHUB)
    partial = KeylessIdentity(None, subject=WORKFLOW, issuer_regex=re.compile("https://token"))
    with pytest.raises(SignatureRejected):
        match_identity(REAL, [partial])

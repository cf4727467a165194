"""Reading and matching Fulcio certificate identities."""

from __future__ import annotations

import re

import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from gatekeeper.policy.model import KeylessIdentity
from gatekeeper.trust._decode import der_utf8_string
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.identity import certificate_identity, match_identity
from tests.helpers.fake_sigstore import FakeSigstore, der_utf8

SIGSTORE_OTHERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


@pytest.mark.parametrize("text", ["", "https://issuer.test", "é" * 100, "x" * 70_000])
def test_der_utf8_round_trip(text: str) -> None:
    assert der_utf8_string(der_utf8(text), "v") == text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a DER UTF8String"),
        (b"\x13\x01a", "not a DER UTF8String"),  # PrintableString
        (b"\x0c\x05abc", "invalid DER length"),
        (b"\x0c\x80", "invalid DER length"),  # indefinite length is not DER
        (b"\x0c\x85\x00\x00\x00\x00\x01a", "invalid DER length"),
        (b"\x0c\x02\xff\xfe", "not valid UTF-8"),
    ],
)
def test_der_utf8_garbage(data: bytes, reason: str) -> None:
    with pytest.raises(SignatureRejected, match=reason):
        der_utf8_string(data, "v")


def test_othername_subjects_are_read(fake: FakeSigstore) -> None:
    san = x509.OtherName(SIGSTORE_OTHERNAME, der_utf8("user!example"))
    leaf = fake.issue(san=san)
    assert certificate_identity(leaf.cert).subjects == ("user!example",)
    identity = KeylessIdentity("https://issuer.test", subject="user!example")
    assert match_identity(leaf.cert, [identity]) == "https://issuer.test user!example"


def test_first_matching_identity_decides(fake: FakeSigstore) -> None:
    leaf = fake.issue()
    identities = [
        KeylessIdentity("https://other.test", subject="dev@example.test"),
        KeylessIdentity("https://issuer.test", subject_regex=re.compile(r"dev@.*")),
    ]
    assert match_identity(leaf.cert, identities) == "https://issuer.test dev@example.test"


def test_issuer_must_match_exactly(fake: FakeSigstore) -> None:
    leaf = fake.issue(issuer="https://issuer.test/")
    with pytest.raises(SignatureRejected, match=r"issuer https://issuer.test/\) does not match"):
        match_identity(leaf.cert, [KeylessIdentity("https://issuer.test", "dev@example.test")])


def test_mismatch_message_lists_at_most_four_identities(fake: FakeSigstore) -> None:
    identities = [KeylessIdentity(f"https://i{n}.test", f"s{n}") for n in range(6)]
    with pytest.raises(SignatureRejected) as caught:
        match_identity(fake.issue().cert, identities)
    assert caught.value.message.endswith("s3 (issuer https://i3.test) and 2 more")


def test_empty_policy_matches_nothing(fake: FakeSigstore) -> None:
    with pytest.raises(SignatureRejected, match="keyless identities: none"):
        match_identity(fake.issue().cert, [])


def test_certificate_without_san_is_refused(fake: FakeSigstore) -> None:
    ca_cert = fake.root  # a CA certificate has no SAN
    with pytest.raises(SignatureRejected, match="no Subject Alternative Name"):
        certificate_identity(ca_cert)

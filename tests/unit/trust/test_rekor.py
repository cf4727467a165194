"""Rekor SETs and entry bodies, checked against the production entries in the fixtures."""

from __future__ import annotations

import base64
import json

import pytest

from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.limits import DEFAULT_LIMITS
from gatekeeper.trust.rekor import (
    EntryClaims,
    LogEntry,
    check_entry_matches,
    parse_bundle_entry,
    parse_cosign_bundle,
    parse_entry_body,
    verify_set,
)
from gatekeeper.trust.trusted_root import TrustedRoot
from tests.unit.trust.conftest import FixtureSignature

PRODUCTION_REKOR = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"


def _entry(sig: FixtureSignature) -> LogEntry:
    return parse_cosign_bundle(sig.annotations["dev.sigstore.cosign/bundle"], DEFAULT_LIMITS)


def test_canonical_payload_is_what_rekor_signed(
    keyed_rekor: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    entry = _entry(keyed_rekor)
    assert (entry.log_id, entry.log_index, entry.integrated_time) == (
        PRODUCTION_REKOR,
        11608800,
        1674251859,
    )
    canonical = entry.canonical_payload()
    assert canonical.startswith(b'{"body":"eyJhcGlWZXJzaW9uIjoiMC4wLjEi')
    assert canonical.endswith(
        b'"integratedTime":1674251859,"logID":"%s","logIndex":11608800}' % PRODUCTION_REKOR.encode()
    )
    verify_set(entry, fixture_root)  # the production SET verifies over exactly these bytes


def test_set_over_other_bytes_fails(
    keyed_rekor: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    entry = _entry(keyed_rekor)
    forged = LogEntry(
        entry.body + b" ",
        entry.integrated_time,
        entry.log_index,
        entry.log_id,
        entry.signed_entry_timestamp,
    )
    with pytest.raises(SignatureRejected, match="does not verify with log key c0d23d6ad406973f"):
        verify_set(forged, fixture_root)


def test_set_from_before_the_log_key_was_valid(
    keyed_rekor: FixtureSignature, fixture_root: TrustedRoot
) -> None:
    entry = _entry(keyed_rekor)
    early = LogEntry(
        entry.body, 946684800, entry.log_index, entry.log_id, entry.signed_entry_timestamp
    )
    with pytest.raises(SignatureRejected, match="was not valid at 2000-01-01"):
        verify_set(early, fixture_root)


def test_hashedrekord_claims(keyed_rekor: FixtureSignature) -> None:
    claims = parse_entry_body(_entry(keyed_rekor), DEFAULT_LIMITS)
    signature = base64.b64decode(keyed_rekor.annotations["dev.cosignproject.cosign/signature"])
    assert claims.kind == "hashedrekord"
    assert claims.signatures == (signature,)
    check_entry_matches(
        claims, payload=keyed_rekor.payload, signature=signature, verifier=claims.verifiers[0]
    )
    with pytest.raises(SignatureRejected, match="different signature or signer"):
        check_entry_matches(claims, payload=keyed_rekor.payload, signature=signature, verifier=b"x")
    with pytest.raises(SignatureRejected, match="different payload"):
        check_entry_matches(
            claims, payload=b"{}", signature=signature, verifier=claims.verifiers[0]
        )


def _body(doc: dict[str, object]) -> LogEntry:
    return LogEntry(json.dumps(doc).encode(), 1, 1, "00" * 32, b"")


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {}}, "other than 0.0.1"),
        ({"apiVersion": "0.0.1", "kind": "alpine", "spec": {}}, "kind 'alpine' is not supported"),
        ({"apiVersion": "0.0.3", "kind": "intoto", "spec": {}}, "other than 0.0.1 and 0.0.2"),
        ({"apiVersion": "0.0.1", "kind": "intoto", "spec": {}}, "'content' is missing"),
        ({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {}}, "'data' is missing"),
        (
            {
                "apiVersion": "0.0.1",
                "kind": "rekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha1", "value": "00"}},
                    "signature": {"content": "", "publicKey": {"content": "LS0t"}},
                },
            },
            "data hash is not a sha256 hash",
        ),
        (
            {
                "apiVersion": "0.0.1",
                "kind": "rekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": "0" * 64}},
                    "signature": {"content": "", "publicKey": {"content": "LS0t"}},
                },
            },
            "is not a PEM certificate or supported key",
        ),
        (
            {"apiVersion": "0.0.1", "kind": "dsse", "spec": {"signatures": []}},
            "no or too many signatures",
        ),
    ],
)
def test_unusable_entry_bodies(doc: dict[str, object], reason: str) -> None:
    with pytest.raises(SignatureRejected, match=reason):
        parse_entry_body(_body(doc), DEFAULT_LIMITS)


def test_bundle_entry_without_promise_is_none() -> None:
    assert parse_bundle_entry({"logIndex": "1"}, DEFAULT_LIMITS) is None
    assert parse_bundle_entry("junk", DEFAULT_LIMITS) is None


def test_bundle_entry_numbers_are_protojson_strings() -> None:
    entry = parse_bundle_entry(
        {
            "logIndex": "42",
            "logId": {"keyId": base64.b64encode(bytes(32)).decode()},
            "integratedTime": "1700000000",
            "inclusionPromise": {"signedEntryTimestamp": "AAAA"},
            "canonicalizedBody": base64.b64encode(b"{}").decode(),
        },
        DEFAULT_LIMITS,
    )
    assert entry is not None
    assert (entry.log_index, entry.integrated_time, entry.log_id) == (42, 1700000000, "00" * 32)


def test_entry_claims_compare_signature_and_verifier_pairwise() -> None:
    claims = EntryClaims("dsse", "00" * 32, (b"s1", b"s2"), (b"k1", b"k2"))
    payload_hash_mismatch = b"x"
    with pytest.raises(SignatureRejected, match="different payload"):
        check_entry_matches(claims, payload=payload_hash_mismatch, signature=b"s1", verifier=b"k1")

"""RFC 3161 signed timestamps in Sigstore bundles, verified against the trusted root's TSAs.

A bundle's ``verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp``
is a DER TimeStampResp whose message imprint is the hash of the bundle's signature bytes (the
DSSE envelope's one ``sig``; protobuf-specs ``sigstore_bundle.proto``). A verified one gives a
signing time the signer could not choose: certificates are then checked at that time, which is
how Rekor v2 entries (no ``integratedTime``) and GitHub's own Sigstore instance (no log at all)
establish time.

sigstore-python does this inside ``Verifier._verify_timestamp_authority`` (private, and reached
only for certificate bundles that also carry exactly one log entry), so it is done here with
the same public ``rfc3161-client`` API: the TSA's signing certificate, intermediates and root
come from one ``timestampAuthorities`` entry, and ``genTime`` must fall in that entry's
``validFor``. Unlike sigstore-python, a timestamp that fails is not skipped: every timestamp a
bundle carries must verify (fail closed; sigstore-conformance's
``rekor2-multiple-timestamps-one-outside-cert-validity_fail`` expects the same spirit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rfc3161_client import (
    TimeStampResponse,
    VerificationError,
    Verifier,
    VerifierBuilder,
    decode_timestamp_response,
)

from gatekeeper.trust._decode import b64decode, member
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.limits import TrustLimits
from gatekeeper.trust.notation.timestamp import MAX_TOKEN_BYTES, response_der_sorted
from gatekeeper.trust.trusted_root import TimestampAuthority, TrustedRoot


def verify_timestamps(
    material_doc: dict[str, Any], signature: bytes, root: TrustedRoot, limits: TrustLimits
) -> tuple[datetime, ...]:
    """The verified ``genTime`` of every timestamp in the bundle (none: ``()``).

    Raises SignatureRejected when any timestamp present does not verify over ``signature``
    with a TSA of ``root`` valid at its ``genTime``.
    """
    data = material_doc.get("timestampVerificationData")
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise SignatureRejected("bundle timestampVerificationData is not an object")
    raw = data.get("rfc3161Timestamps", [])
    if not isinstance(raw, list) or len(raw) > limits.max_signatures:
        raise SignatureRejected(
            f"bundle rfc3161Timestamps is not a list of at most {limits.max_signatures}"
        )
    if raw and not root.tsas:
        raise SignatureRejected(
            f"bundle carries signed timestamps, but {root.source} names no timestamp authority"
        )
    tokens = [
        b64decode(
            member(item, "signedTimestamp", str, "bundle timestamp"),
            "bundle signedTimestamp",
            MAX_TOKEN_BYTES,
        )
        for item in raw
    ]
    if len(set(tokens)) != len(tokens):
        raise SignatureRejected("bundle carries the same timestamp twice")
    return tuple(_verify_one(token, signature, root) for token in tokens)


def _verify_one(token: bytes, signature: bytes, root: TrustedRoot) -> datetime:
    try:
        response = decode_timestamp_response(response_der_sorted(token))
    except ValueError as exc:
        raise SignatureRejected(f"bundle timestamp is malformed: {str(exc)[:120]}") from exc
    last = "no timestamp authority verifies it"
    for authority in root.tsas:
        try:
            _verifier(authority).verify_message(response, signature)
        except VerificationError as exc:
            last = str(exc)[:120]
            continue
        generated = _gen_time(response)
        if authority.validity.contains(generated):
            return generated
        last = f"{authority.uri or 'the TSA'} was not valid at {generated:%F %T}Z"
    raise SignatureRejected(f"signed timestamp does not verify with {root.source}: {last}")


def _verifier(authority: TimestampAuthority) -> Verifier:
    chain = authority.chain
    builder = VerifierBuilder().tsa_certificate(chain[0]).add_root_certificate(chain[-1])
    for intermediate in chain[1:-1]:
        builder = builder.add_intermediate_certificate(intermediate)
    return builder.build()


def _gen_time(response: TimeStampResponse) -> datetime:
    moment = response.tst_info.gen_time
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

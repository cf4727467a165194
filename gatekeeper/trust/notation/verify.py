"""Verify one Notation signature envelope for one image, as the Notary Project specifies.

Steps (``trust-store-trust-policy.md``, "Signature Verification"), each *enforced* (a failure
raises :class:`SignatureRejected`) or *logged* (a failure becomes a warning) by the level:

======================  ========  ==========  =======
validation              strict    permissive  audit
======================  ========  ==========  =======
integrity               enforced  enforced    logged*
authenticity            enforced  enforced    logged
authentic timestamp     enforced  logged      logged
expiry                  enforced  logged      logged
revocation              not checked (no CRL/OCSP fetch from the gate; documented)
======================  ========  ==========  =======

\\* the specification enforces integrity at audit too; gatekeeper's audit level never refuses,
so the gatherer turns every audit failure into a warning (:mod:`gatekeeper.gatherers.notation`).

Integrity: supported content type and signing scheme, every ``crit`` header understood (and
every critical one listed), ``alg`` equal to the one the signing key implies, the signature over
the signed bytes, then the payload ``{"targetArtifact": descriptor}`` whose digest, size and
media type must equal the image's. Authenticity: the chain's shape and certificate rules
(:mod:`gatekeeper.trust.notation.certificates`), a path to the trust store for the scheme
(``ca`` for ``notary.x509``, ``signingAuthority`` for ``notary.x509.signingAuthority``), and a
trusted identity matching the signing certificate's subject. Authentic timestamp: for
``notary.x509``, an RFC 3161 timestamp whose range lies within the chain's validity when a
``tsa_trust_store`` is configured (under ``afterCertExpiry`` only once the chain has expired),
else the chain valid now; for signingAuthority, the chain
valid at the signed ``authenticSigningTime``. Expiry: ``io.cncf.notary.expiry`` after now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from gatekeeper.oci.strict_json import no_duplicate_keys
from gatekeeper.policy.notation import NotationPolicy, TrustedIdentity
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.notation.certificates import (
    chain_to_store,
    check_chain_shape,
    describe,
    load_chain,
    subject_attributes,
    validity_problem,
)
from gatekeeper.trust.notation.envelope import (
    AUTHENTIC_SIGNING_TIME,
    EXPIRY,
    PLUGIN,
    PLUGIN_MIN_VERSION,
    SIGNING_SCHEME,
    SIGNING_TIME,
    UntrustedEnvelope,
)
from gatekeeper.trust.notation.store import NotationTrust
from gatekeeper.trust.notation.timestamp import verify_timestamp

PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json"
X509 = "notary.x509"
SIGNING_AUTHORITY = "notary.x509.signingAuthority"
_KNOWN_CRITICAL = frozenset({SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME, EXPIRY})
_MUST_BE_CRITICAL = (SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME, EXPIRY, PLUGIN, PLUGIN_MIN_VERSION)
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "256": hashes.SHA256(),
    "384": hashes.SHA384(),
    "512": hashes.SHA512(),
}


@dataclass(frozen=True, slots=True)
class Target:
    """The image the signature must name: its manifest digest, size and media type."""

    digest: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class NotationVerdict:
    """A verified signature: the identity entry it matched, its signer, logged failures."""

    identity: TrustedIdentity
    subject: str  # the signing certificate's subject (RFC 4514)
    warnings: tuple[str, ...]


class _Steps:
    """Collects logged failures; raises for enforced ones."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def fail(self, enforced: bool, problem: str) -> None:
        if enforced:
            raise SignatureRejected(problem)
        self.warnings.append(problem)


def verify_envelope(
    envelope: UntrustedEnvelope,
    target: Target,
    policy: NotationPolicy,
    trust: NotationTrust,
    now: datetime,
) -> NotationVerdict:
    """Run every validation on ``envelope`` (see the module docstring)."""
    steps = _Steps()
    # --- integrity
    scheme = _check_headers(envelope)
    chain = load_chain(envelope.certificates)
    _check_signature(envelope, chain[0])
    _check_payload(envelope.payload, target)
    # --- authenticity
    roots = trust.signing_authority if scheme == SIGNING_AUTHORITY else trust.ca
    store = "signingAuthority" if scheme == SIGNING_AUTHORITY else "ca"
    identity = _authenticity(chain, roots, store, policy, now, steps)
    # --- expiry
    expiry = envelope.headers.get(EXPIRY)
    if isinstance(expiry, datetime) and now >= expiry:
        steps.fail(policy.enforces("expiry"), f"signature expired at {expiry:%F %T}Z")
    # --- authentic timestamp
    problem = _authentic_time(envelope, scheme, chain, trust, policy, now)
    if problem is not None:
        steps.fail(policy.enforces("authenticTimestamp"), problem)
    # --- revocation: not checked (no CRL or OCSP is fetched from the gate; see README)
    return NotationVerdict(identity, chain[0].subject.rfc4514_string(), tuple(steps.warnings))


def _check_headers(envelope: UntrustedEnvelope) -> str:
    if envelope.content_type != PAYLOAD_TYPE:
        raise SignatureRejected(f"unsupported payload content type {envelope.content_type!r}")
    scheme = envelope.headers.get(SIGNING_SCHEME)
    if scheme not in (X509, SIGNING_AUTHORITY):
        raise SignatureRejected(f"unsupported signing scheme {scheme!r}")
    crit = set(envelope.crit)
    if len(crit) != len(envelope.crit):
        raise SignatureRejected("crit header lists a header twice")
    for name in crit:
        if name in (PLUGIN, PLUGIN_MIN_VERSION):
            raise SignatureRejected(
                f"signature requires verification plugin {envelope.headers.get(PLUGIN)!r},"
                " which gatekeeper does not run"
            )
        if name not in _KNOWN_CRITICAL:
            raise SignatureRejected(f"unknown critical header {name!r}")
        if name not in envelope.headers:
            raise SignatureRejected(f"critical header {name!r} is listed but absent")
    for name in _MUST_BE_CRITICAL:
        if name in envelope.headers and name not in crit:
            raise SignatureRejected(f"header {name!r} must be marked critical")
    if scheme == X509:
        if not isinstance(envelope.headers.get(SIGNING_TIME), datetime):
            raise SignatureRejected("notary.x509 signature has no signing time")
        if AUTHENTIC_SIGNING_TIME in envelope.headers:
            raise SignatureRejected("notary.x509 signature carries an authentic signing time")
    elif not isinstance(envelope.headers.get(AUTHENTIC_SIGNING_TIME), datetime):
        raise SignatureRejected("notary.x509.signingAuthority signature has no authentic time")
    return str(scheme)


def _check_signature(envelope: UntrustedEnvelope, leaf: x509.Certificate) -> None:
    key = leaf.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        size = {2048: "256", 3072: "384", 4096: "512"}.get(key.key_size)
        expected = f"PS{size}" if size else None
    elif isinstance(key, ec.EllipticCurvePublicKey):
        size = {"secp256r1": "256", "secp384r1": "384", "secp521r1": "512"}.get(key.curve.name)
        expected = f"ES{size}" if size else None
    else:
        expected, size = None, None
    if expected is None or size is None:
        raise SignatureRejected("signing certificate key type or size is not allowed")
    if envelope.alg != expected:
        raise SignatureRejected(
            f"alg {envelope.alg} does not match the signing key (expects {expected})"
        )
    digest = _HASHES[size]
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(padding.MGF1(digest), padding.PSS.DIGEST_LENGTH)
            key.verify(envelope.signature, envelope.signed_bytes, pss, digest)
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            half = (key.curve.key_size + 7) // 8
            if len(envelope.signature) != 2 * half:
                raise SignatureRejected("ECDSA signature has the wrong length")
            r = int.from_bytes(envelope.signature[:half], "big")
            s = int.from_bytes(envelope.signature[half:], "big")
            key.verify(encode_dss_signature(r, s), envelope.signed_bytes, ec.ECDSA(digest))
    except InvalidSignature as exc:
        raise SignatureRejected("signature does not verify with the signing certificate") from exc


def _check_payload(payload: bytes, target: Target) -> None:
    try:
        doc = json.loads(payload, object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise SignatureRejected("signed payload is not valid JSON") from exc
    descriptor = doc.get("targetArtifact") if isinstance(doc, dict) else None
    if not isinstance(descriptor, dict):
        raise SignatureRejected("signed payload has no targetArtifact descriptor")
    digest, size = descriptor.get("digest"), descriptor.get("size")
    media_type = descriptor.get("mediaType")
    if digest != target.digest:
        raise SignatureRejected(f"signature is for {str(digest)[:80]}, not {target.digest}")
    if isinstance(size, bool) or size != target.size:
        raise SignatureRejected(f"signature names size {size!r}, the manifest has {target.size}")
    if media_type != target.media_type:
        raise SignatureRejected(
            f"signature names media type {str(media_type)[:80]!r}, the manifest is"
            f" {target.media_type!r}"
        )


def _authenticity(
    chain: list[x509.Certificate],
    roots: tuple[x509.Certificate, ...],
    store: str,
    policy: NotationPolicy,
    now: datetime,
    steps: _Steps,
) -> TrustedIdentity:
    enforced = policy.level.enforces_authenticity
    try:
        check_chain_shape(chain)
        # The path is built at a moment every certificate in it was valid; whether that
        # moment is acceptable is the authentic-timestamp step's question, not this one's.
        chain_to_store(chain, roots, _valid_moment(chain, now), store)
    except SignatureRejected as exc:
        steps.fail(enforced, exc.message)
    subject = subject_attributes(chain[0])
    for identity in policy.trusted_identities:
        if identity.matches(subject):
            return identity
    steps.fail(
        enforced,
        f"signing certificate {describe(chain[0])} matches no trusted identity"
        f" ({', '.join(i.text for i in policy.trusted_identities)})",
    )
    return policy.trusted_identities[0]  # audit only: never counted as a signer


def _valid_moment(chain: list[x509.Certificate], now: datetime) -> datetime:
    if validity_problem(chain, now, now) is None:
        return now
    return max(cert.not_valid_before_utc for cert in chain)


def _authentic_time(
    envelope: UntrustedEnvelope,
    scheme: str,
    chain: list[x509.Certificate],
    trust: NotationTrust,
    policy: NotationPolicy,
    now: datetime,
) -> str | None:
    if scheme == SIGNING_AUTHORITY:
        at = envelope.headers[AUTHENTIC_SIGNING_TIME]
        problem = validity_problem(chain, at, at)
        return None if problem is None else f"at the authentic signing time: {problem}"
    expired_now = validity_problem(chain, now, now)
    # trust-store-trust-policy.md, "Timestamp Countersignature Verification details": only
    # with a tsa store, and under afterCertExpiry only once the chain has expired.
    after_expiry = policy.verify_timestamp == "afterCertExpiry"
    if policy.tsa_trust_store and (not after_expiry or expired_now is not None):
        if not envelope.timestamp:
            return "the policy requires an RFC 3161 timestamp and the signature has none"
        try:
            stamped = verify_timestamp(envelope.timestamp, envelope.signature, trust.tsa)
        except SignatureRejected as exc:
            return exc.message
        problem = validity_problem(chain, stamped.lower, stamped.upper)
        if problem is None:
            return None
        return f"at the timestamp {stamped.lower:%F %T}Z..{stamped.upper:%T}Z: {problem}"
    return None if expired_now is None else f"now (no timestamp verified): {expired_now}"

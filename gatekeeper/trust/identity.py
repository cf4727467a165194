"""Who a Fulcio certificate names, and whether a policy's keyless identities accept it.

A Fulcio certificate names its subject in the Subject Alternative Name (an email, a URI such
as a GitHub workflow, or a Sigstore ``OtherName``) and the OIDC issuer in an extension: the v2
extension ``1.3.6.1.4.1.57264.1.8`` (a DER UTF8String) and, in older certificates, the legacy
``1.3.6.1.4.1.57264.1.1`` (raw UTF-8 bytes) (fulcio ``docs/oid-info.md``). A policy
identity may also name claims about the signing workload
(:mod:`gatekeeper.trust.fulcio_claims`): all of them must hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier
from sigstore.errors import VerificationError

from gatekeeper.policy.model import KeylessIdentity
from gatekeeper.trust._decode import der_utf8_string
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.fulcio_claims import claim

OIDC_ISSUER_LEGACY = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SIGSTORE_OTHERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


@dataclass(frozen=True, slots=True)
class CertificateIdentity:
    """The SAN subjects and OIDC issuer a certificate carries."""

    subjects: tuple[str, ...]
    issuer: str

    def describe(self) -> str:
        return f"{', '.join(self.subjects) or '(no subject)'} (issuer {self.issuer})"


def certificate_identity(cert: x509.Certificate) -> CertificateIdentity:
    """Read SAN subjects and the OIDC issuer; SignatureRejected if either is missing."""
    return CertificateIdentity(_subjects(cert), _issuer(cert))


def _extension_value(cert: x509.Certificate, oid: ObjectIdentifier) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:  # duplicate or malformed extensions
        raise SignatureRejected(f"certificate extensions are malformed: {exc}") from exc
    if not isinstance(value, x509.UnrecognizedExtension):
        raise SignatureRejected(f"certificate extension {oid.dotted_string} is malformed")
    return value.value


def _issuer(cert: x509.Certificate) -> str:
    v2 = _extension_value(cert, OIDC_ISSUER_V2)
    legacy = _extension_value(cert, OIDC_ISSUER_LEGACY)
    issuer_v2 = None if v2 is None else der_utf8_string(v2, "certificate OIDC issuer (v2)")
    try:
        issuer_legacy = None if legacy is None else legacy.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureRejected("certificate OIDC issuer is not UTF-8") from exc
    if issuer_v2 is not None and issuer_legacy is not None and issuer_v2 != issuer_legacy:
        # Fulcio writes the same issuer to both; a certificate that disagrees with itself is
        # not one Fulcio made.
        raise SignatureRejected(
            f"certificate names two OIDC issuers ({issuer_v2!r} and {issuer_legacy!r})"
        )
    issuer = issuer_v2 if issuer_v2 is not None else issuer_legacy
    if not issuer:
        raise SignatureRejected("certificate has no OIDC issuer extension")
    return issuer


def _subjects(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise SignatureRejected("certificate has no Subject Alternative Name") from exc
    except ValueError as exc:
        raise SignatureRejected(f"certificate SAN is malformed: {exc}") from exc
    subjects = list(san.get_values_for_type(x509.RFC822Name))
    subjects += san.get_values_for_type(x509.UniformResourceIdentifier)
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == SIGSTORE_OTHERNAME:
            subjects.append(der_utf8_string(other.value, "certificate OtherName SAN"))
    return tuple(subjects)


def _issuer_accepted(identity: KeylessIdentity, issuer: str) -> bool:
    if identity.issuer_regex is not None:
        return identity.issuer_regex.fullmatch(issuer) is not None
    return issuer == identity.issuer


def _accepts(identity: KeylessIdentity, found: CertificateIdentity) -> str | None:
    """The subject ``identity`` accepts, if any (issuer and subject exact or fullmatch)."""
    if not _issuer_accepted(identity, found.issuer):
        return None
    for subject in found.subjects:
        if identity.subject is not None and subject == identity.subject:
            return subject
        if identity.subject_regex is not None and identity.subject_regex.fullmatch(subject):
            return subject
    return None


def _claim_mismatch(identity: KeylessIdentity, cert: x509.Certificate) -> str | None:
    """Why the certificate's claims fail ``identity``'s matchers (None: they all hold)."""
    for matcher in identity.claims:
        value = claim(cert, matcher.name)
        if not matcher.accepts(value):
            shown = "absent" if value is None else repr(value[:120])
            return f"claim {matcher.name} is {shown}, the policy wants {matcher.describe()}"
    return None


def _describe_policy(identities: Sequence[KeylessIdentity]) -> str:
    parts = []
    for identity in identities[:4]:
        wanted = identity.subject or (identity.subject_regex and identity.subject_regex.pattern)
        issuer = identity.issuer or (identity.issuer_regex and identity.issuer_regex.pattern)
        claims = "".join(f", {matcher.describe()}" for matcher in identity.claims[:3])
        parts.append(f"{wanted} (issuer {issuer}{claims})")
    more = f" and {len(identities) - 4} more" if len(identities) > 4 else ""
    return "; ".join(parts) + more


def match_identity(cert: x509.Certificate, identities: Sequence[KeylessIdentity]) -> str:
    """The signer name ``"<issuer> <subject>"`` when a policy identity accepts ``cert``.

    An identity accepts a certificate when its issuer and subject match and every claim it
    names is present in the certificate with a matching value.
    """
    found = certificate_identity(cert)
    mismatch = None
    for identity in identities:
        subject = _accepts(identity, found)
        if subject is None:
            continue
        mismatch = _claim_mismatch(identity, cert)
        if mismatch is None:
            return f"{found.issuer} {subject}"
    if mismatch is not None:  # issuer and subject matched: the claim is what to fix
        raise SignatureRejected(
            f"certificate {mismatch} (identity {found.describe()}; policy:"
            f" {_describe_policy(identities)})"
        )
    raise SignatureRejected(
        f"certificate identity {found.describe()} does not match "
        f"the policy's keyless identities: {_describe_policy(identities) or 'none'}"
    )


class IdentityPolicy:
    """sigstore-python ``VerificationPolicy`` accepting any of the policy's identities.

    sigstore's ``Identity`` matches an exact subject and only the legacy issuer extension;
    this checks subject regexes and the v2 issuer as well, with the same rules as the legacy
    path, so both kinds of signature obey one definition of "identity".
    """

    def __init__(self, identities: Sequence[KeylessIdentity]) -> None:
        if not identities:
            # Mirrors sigstore's empty AnyOf: a policy that accepts nothing must not pass.
            raise ValueError("IdentityPolicy needs at least one identity")
        self._identities = tuple(identities)

    def verify(self, cert: x509.Certificate) -> None:
        """Raise sigstore's VerificationError unless an identity accepts ``cert``."""
        try:
            match_identity(cert, self._identities)
        except SignatureRejected as exc:
            raise VerificationError(exc.message) from exc

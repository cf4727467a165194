"""The claims a Fulcio certificate carries about the workload that signed (fulcio
``docs/oid-info.md``): which repository, at which ref, built by which workflow, on which runner.

Extensions ``1.3.6.1.4.1.57264.1.8`` onward (v2) hold a DER UTF8String each. The deprecated
``1.3.6.1.4.1.57264.1.1`` to ``.1.6`` hold raw UTF-8 bytes; certificates from older Fulcio
releases carry only those, so a v2 claim with a legacy equivalent falls back to it (and
their values must agree when both are present: a certificate that disagrees with itself is
not one Fulcio made). The legacy GitHub claims are also matchable under their own names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from gatekeeper.trust._decode import der_utf8_string
from gatekeeper.trust.errors import SignatureRejected

_ARC = "1.3.6.1.4.1.57264.1."

# policy name → (v2 OID suffix, legacy OID suffix or None)
V2_CLAIMS: Mapping[str, tuple[int, int | None]] = MappingProxyType(
    {
        "build_signer_uri": (9, None),
        "build_signer_digest": (10, None),
        "runner_environment": (11, None),
        "source_repository_uri": (12, None),
        "source_repository_digest": (13, 3),  # legacy: GitHub Workflow SHA
        "source_repository_ref": (14, 6),  # legacy: GitHub Workflow Ref
        "source_repository_identifier": (15, None),
        "source_repository_owner_uri": (16, None),
        "source_repository_owner_identifier": (17, None),
        "build_config_uri": (18, None),
        "build_config_digest": (19, None),
        "build_trigger": (20, 2),  # legacy: GitHub Workflow Trigger
        "run_invocation_uri": (21, None),
        "source_repository_visibility_at_signing": (22, None),
    }
)
LEGACY_CLAIMS: Mapping[str, int] = MappingProxyType(
    {
        "github_workflow_trigger": 2,
        "github_workflow_sha": 3,
        "github_workflow_name": 4,
        "github_workflow_repository": 5,  # "owner/repo", not a URI
        "github_workflow_ref": 6,
    }
)
CLAIM_NAMES = (*V2_CLAIMS, *LEGACY_CLAIMS)
MAX_CLAIM_CHARS = 4096


def claim(cert: x509.Certificate, name: str) -> str | None:
    """The value of claim ``name`` in ``cert``; None when absent; SignatureRejected if bad."""
    if name in LEGACY_CLAIMS:
        return _legacy(cert, LEGACY_CLAIMS[name])
    v2_suffix, legacy_suffix = V2_CLAIMS[name]
    raw = _extension(cert, ObjectIdentifier(f"{_ARC}{v2_suffix}"))
    value = None if raw is None else der_utf8_string(raw, f"certificate claim {name}")
    legacy = None if legacy_suffix is None else _legacy(cert, legacy_suffix)
    if value is not None and legacy is not None and value != legacy:
        raise SignatureRejected(f"certificate names two values for {name}")
    return value if value is not None else legacy


def _legacy(cert: x509.Certificate, suffix: int) -> str | None:
    raw = _extension(cert, ObjectIdentifier(f"{_ARC}{suffix}"))
    if raw is None:
        return None
    try:
        return raw[:MAX_CLAIM_CHARS].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureRejected(f"certificate extension {_ARC}{suffix} is not UTF-8") from exc


def _extension(cert: x509.Certificate, oid: ObjectIdentifier) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:  # duplicate or malformed extensions
        raise SignatureRejected(f"certificate extensions are malformed: {exc}") from exc
    if not isinstance(value, x509.UnrecognizedExtension):
        raise SignatureRejected(f"certificate extension {oid.dotted_string} is malformed")
    return value.value

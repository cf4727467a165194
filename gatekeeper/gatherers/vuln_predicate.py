"""cosign's vulnerability attestation predicate → a :class:`ScanVerdict` (pure).

Predicate type ``https://cosign.sigstore.dev/attestation/vuln/v1`` (cosign
``pkg/cosign/attestation``, ``CosignVulnPredicate``; ``cosign attest --type vuln``)::

    {"invocation": {"parameters": …, "uri": …, "event_id": …, "builder.id": …},
     "scanner": {"uri": …, "version": …, "db": {"uri": …, "version": …}, "result": {…}},
     "metadata": {"scanStartedOn": "<RFC 3339>", "scanFinishedOn": "<RFC 3339>"}}

``scanner.result`` is read as a Trivy JSON report (schema 2) by
:func:`gatekeeper.scans.trivy.parse_trivy_report`. The verdict belongs to the image digest the
signed statement's subject names: the report's own ``Metadata.RepoDigests`` may be absent
(``trivy image --format json`` of a local tarball) and are ignored. ``created`` is
``metadata.scanFinishedOn``; cosign writes Go's zero time when it was not given, and then
the report's ``CreatedAt`` is used, else the moment of verification.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gatekeeper.oci.digest import tag_fallback
from gatekeeper.policy.evidence import ScanVerdict
from gatekeeper.scans import _json
from gatekeeper.scans.errors import ScanError
from gatekeeper.scans.trivy import parse_trivy_report
from gatekeeper.trust.attestations import VerifiedStatement

VULN_PREDICATE = "https://cosign.sigstore.dev/attestation/vuln/v1"
SOURCE_PREFIX = "attestation "  # every verdict made here has a source text starting so
_GO_ZERO_YEAR = 1  # time.Time{} marshals as 0001-01-01T00:00:00Z


class VulnPredicateError(ScanError):
    """A verified vulnerability attestation whose predicate gatekeeper cannot use."""


def scope_suffix(scope: str) -> str:
    """The end of a verdict's source text naming the trust scope it was verified under."""
    return f"; trust scope {scope})"


def verdict_from_statement(
    verified: VerifiedStatement,
    image_digest: str,
    scope: str,
    now: datetime,
) -> ScanVerdict:
    """The verdict a verified vuln statement gives ``image_digest``; VulnPredicateError if
    the predicate is malformed or its result is not a Trivy report."""
    predicate = _object(verified.statement.get("predicate"), "predicate")
    scanner = _object(predicate.get("scanner"), "predicate.scanner")
    result = _object(scanner.get("result"), "predicate.scanner.result")
    try:
        data = json.dumps(result).encode()
    except (ValueError, RecursionError) as exc:
        raise VulnPredicateError(f"predicate.scanner.result cannot be read: {exc}") from exc
    try:
        # Named like a digest file, so a report without RepoDigests still belongs to the
        # image: the signed subject decides which image the verdict is about.
        report = parse_trivy_report(data, file_name=tag_fallback(image_digest) + ".json")
    except ScanError as exc:
        raise VulnPredicateError(
            f"predicate.scanner.result is not a usable Trivy report: {exc.message}"
        ) from exc
    created = _finished(predicate.get("metadata")) or report.created or now
    where = verified.source.removeprefix("tag ")
    source = f"{SOURCE_PREFIX}{where} (signed by {verified.signer}{scope_suffix(scope)}"
    return ScanVerdict(image_digest, source, created, report.findings)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        state = "missing" if value is None else f"a {type(value).__name__}"
        raise VulnPredicateError(f"{where} is {state}, not an object")
    return value


def _finished(metadata: Any) -> datetime | None:
    if metadata is None:
        return None
    text = _json.text(
        _object(metadata, "predicate.metadata"),
        "scanFinishedOn",
        "predicate.metadata",
        VulnPredicateError,
        required=False,
        max_chars=64,
    )
    if text is None:
        return None
    moment = _json.timestamp(text, "predicate.metadata.scanFinishedOn", VulnPredicateError)
    return None if moment.year == _GO_ZERO_YEAR else moment

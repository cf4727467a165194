"""The scans package's errors: a verdict source that could not be read.

None of them reaches the wire: the directory logs and skips a bad report, the scanner client
logs a failed scan, and the policy core sees "no verdict" (which fails closed when
``scan.require_verdict`` is set).
"""

from __future__ import annotations

from gatekeeper.errors import GatekeeperError


class ScanError(GatekeeperError):
    """Root of the errors raised while reading vulnerability verdicts."""

    code = "UNAVAILABLE"
    status = 503


class TrivyReportError(ScanError):
    """A Trivy JSON report gatekeeper cannot use; the message names the field and why."""


class ScannerError(ScanError):
    """A Harbor scanner adapter that refused, failed or answered outside the v1.2 spec."""

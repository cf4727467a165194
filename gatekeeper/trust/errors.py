"""The trust package's errors: unusable trust material, and one rejected signature."""

from __future__ import annotations

from gatekeeper.errors import GatekeeperError


class TrustError(GatekeeperError):
    """Trust material gatekeeper cannot use (a key file, a trusted root).

    Raised while a policy is loaded, so it is a configuration error, never a wire error.
    """

    code = "CONFIG_INVALID"
    status = 500


class SignatureRejected(TrustError):
    """One candidate signature does not count; the message says why, for a human.

    Raised inside the verifiers and turned into a ``SignatureEvidence`` problem by
    :func:`gatekeeper.trust.verify.evaluate_signatures`; it never leaves that function.
    """

    code = "DENIED"
    status = 403

"""One root error; every subclass has one OCI error code and one HTTP status.

The wire form of each error is registered once, here (the model is distribution's
``registry/api/errcode``): handlers raise, :func:`gatekeeper.server.errors` renders.
"""

from __future__ import annotations

from typing import Any


class GatekeeperError(Exception):
    """Root of every error gatekeeper raises on purpose."""

    code: str = "UNKNOWN"
    status: int = 500
    retry_after: int | None = None  # seconds, sent as ``Retry-After`` (503, 504, 429)

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NameInvalid(GatekeeperError):
    code = "NAME_INVALID"
    status = 400


class TagInvalid(GatekeeperError):
    code = "TAG_INVALID"
    status = 400


class DigestInvalid(GatekeeperError):
    code = "DIGEST_INVALID"
    status = 400


class ManifestInvalid(GatekeeperError):
    code = "MANIFEST_INVALID"
    status = 400


class ManifestUnknown(GatekeeperError):
    """No manifest under that reference (also: a reference no manifest can ever have)."""

    code = "MANIFEST_UNKNOWN"
    status = 404


class SizeInvalid(GatekeeperError):
    """A body larger than gatekeeper is willing to read (manifests, artifacts)."""

    code = "SIZE_INVALID"
    status = 413


class RouteNotFound(GatekeeperError):
    code = "NOT_FOUND"
    status = 404


class Unsupported(GatekeeperError):
    code = "UNSUPPORTED"
    status = 405


class Denied(GatekeeperError):
    code = "DENIED"
    status = 403


class RouteDenied(Denied):
    """Mirror routing refused: a registry not mirrored here, or a name that would be judged
    under another registry's rules than the one it is fetched from."""


class Unavailable(GatekeeperError):
    """The upstream registry could not be reached or did not answer in time."""

    code = "UNAVAILABLE"
    status = 503
    retry_after = 1


class UpstreamTimeout(Unavailable):
    """The upstream did not answer (or stopped sending) within the configured time."""

    status = 504
    retry_after = 1


class Overloaded(GatekeeperError):
    """gatekeeper is at one of its concurrency limits; the client should retry shortly."""

    code = "TOOMANYREQUESTS"
    status = 503
    retry_after = 1


class UpstreamProtocolError(GatekeeperError):
    """The upstream answered, but not as the distribution spec says it must."""

    code = "UNAVAILABLE"
    status = 502


class HttpError(GatekeeperError):
    """An HTTP-level refusal (bad method, bad request line) rendered in OCI form."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ConfigError(GatekeeperError):
    """Invalid settings or policy: reported at start-up or reload, never on the wire."""

    code = "CONFIG_INVALID"
    status = 500

"""The OCI error envelope: ``{"errors": [{"code", "message", "detail"}]}``."""

from __future__ import annotations

import json
from typing import Any


def error_body(code: str, message: str, detail: Any = None) -> bytes:
    """Serialise one error in the distribution-spec envelope."""
    entry: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        entry["detail"] = detail
    return json.dumps({"errors": [entry]}, separators=(",", ":")).encode()

"""Log lines on stderr: text for people, or one JSON object per line for collectors.

Every line logged while a request is handled carries its request id (the ``X-Request-Id``
of the response), taken from a context variable the server sets per request. Decision
lines are separate: :mod:`gatekeeper.admission.decision_log`.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("text", "json")

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gatekeeper_request_id", default=None
)
_installed: logging.Handler | None = None
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = REQUEST_ID.get()
        if rid is not None:
            record.request_id = rid
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, with ``[request id]`` before the message when known."""

    def __init__(self) -> None:
        super().__init__(_TEXT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        rid = getattr(record, "request_id", None)
        if rid is None:
            return line
        head, sep, message = line.partition(": ")
        return f"{head} [{rid}]{sep}{message}"


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, request_id, exc_info."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        json_ensure_ascii=False,
    )


def configure(level: str, fmt: str, stream: Any = None) -> None:
    """Send gatekeeper's (and its libraries') logs to ``stream`` (stderr) in ``fmt``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    global _installed
    root = logging.getLogger()
    if _installed is not None:  # configured again (tests call main() repeatedly)
        root.removeHandler(_installed)
    root.addHandler(handler)
    root.setLevel(level.upper())
    _installed = handler

"""Logging for the server: malformed HTTP from clients is one line, not a traceback."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError


class OneLineBadRequests(logging.Filter):
    """aiohttp logs a client's malformed request with a traceback; it is the client's
    error, so say it in one warning line (it already got its 400)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            first = (error.message or type(error).__name__).strip().splitlines()[0]
            record.msg = "malformed request from a client (answered %d): %s"
            record.args = (error.code, first[:200])
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install() -> None:
    logging.getLogger("aiohttp.server").addFilter(OneLineBadRequests())

"""Text about errors that is safe to log or send: no repr, no credentials in URLs.

aiohttp's error reprs hold the whole request (``request_info``), headers included; URLs may
carry user info or tokens in their query (token realms, presigned storage URLs). Everything
gatekeeper says about a foreign error goes through here.
"""

from __future__ import annotations

import re

_URL = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s@'\"]*@)?(?P<rest>[^\s?#'\"]*)"
    r"(?:[?#][^\s'\"]*)?"
)


def redact_urls(text: str) -> str:
    """``text`` with every URL's user info, query and fragment removed."""
    return _URL.sub(lambda m: m["scheme"] + m["rest"], text)


def describe(exc: BaseException) -> str:
    """First line of ``str(exc)`` (its type name when empty), URLs redacted, ≤ 200 chars."""
    text = (str(exc) or type(exc).__name__).splitlines()[0][:300]
    return redact_urls(text)[:200]

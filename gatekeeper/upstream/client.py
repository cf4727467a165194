"""The upstream registry: one shared aiohttp ClientSession, aiohttp errors → ours.

Everything crossing to the upstream goes through :meth:`Upstream.send`, so connection
errors become one ``UNAVAILABLE`` error naming the upstream (httpx's
``map_httpcore_exceptions`` is the model).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from gatekeeper.config import Limits
from gatekeeper.errors import SizeInvalid, Unavailable


class Upstream:
    """A registry base URL plus the session used to reach it."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.origin = URL(self.base_url).origin()
        self.session = session

    @classmethod
    def create(cls, base_url: str, limits: Limits) -> Upstream:
        """Build the shared session. Must be called inside a running event loop."""
        connector = aiohttp.TCPConnector(
            limit=limits.upstream_connections, ttl_dns_cache=300, enable_cleanup_closed=True
        )
        timeout = aiohttp.ClientTimeout(
            total=None, connect=limits.connect_timeout, sock_read=limits.read_timeout
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,  # bytes pass through exactly as the upstream sent them
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            trust_env=False,
        )
        return cls(base_url, session)

    async def close(self) -> None:
        await self.session.close()

    def url(self, raw_path_qs: str) -> URL:
        """The upstream URL for an already-encoded ``/v2/…?query`` string."""
        return URL(self.base_url + raw_path_qs, encoded=True)

    @asynccontextmanager
    async def send(
        self,
        method: str,
        raw_path_qs: str,
        headers: CIMultiDict[str],
        data: Any = None,
        *,
        follow_redirects: bool = False,
        own: bool = False,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request upstream; connection failures raise ``UNAVAILABLE``.

        ``own`` marks gatekeeper's own reads (evidence, evaluate), as opposed to a client's
        request relayed with the client's own credentials.
        """
        try:
            async with self.session.request(
                method,
                self.url(raw_path_qs),
                headers=headers,
                data=data,
                allow_redirects=follow_redirects,
                max_redirects=5,
            ) as response:
                yield response
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise Unavailable(
                f"upstream registry {self.base_url} is unavailable: {describe(exc)}",
                {"upstream": self.base_url},
            ) from exc
        except aiohttp.TooManyRedirects as exc:
            raise Unavailable(f"upstream registry {self.base_url} redirected too often") from exc


def describe(exc: BaseException) -> str:
    """A short, single-line description of a connection error for messages and logs."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read a whole body, refusing (SIZE_INVALID) once it grows past ``limit`` bytes."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise SizeInvalid(f"upstream body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise SizeInvalid(f"upstream body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)

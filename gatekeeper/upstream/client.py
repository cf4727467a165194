"""The upstream registry: one shared aiohttp ClientSession, aiohttp errors → ours.

Everything crossing to the upstream goes through :meth:`Upstream.send`, so connection
errors become one ``UNAVAILABLE`` error naming the upstream (httpx's
``map_httpcore_exceptions`` is the model). Requests made with gatekeeper's own identity
(``own=True``) carry its credentials and answer token challenges; a client's relayed request
carries only what the client sent.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from gatekeeper import metrics
from gatekeeper.config import Limits
from gatekeeper.errors import (
    ConfigError,
    GatekeeperError,
    Unavailable,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from gatekeeper.proxy.headers import CREDENTIALS
from gatekeeper.redact import describe
from gatekeeper.upstream.auth import Authenticator, scope_for
from gatekeeper.upstream.budget import Budget
from gatekeeper.upstream.credentials import Credential
from gatekeeper.upstream.health import Reachability, UpstreamState
from gatekeeper.upstream.live_credentials import CredentialSource
from gatekeeper.upstream.proxy_env import ProxyEnv


class Upstream:
    """A registry base URL plus the session used to reach it."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        credential: Credential | CredentialSource | None = None,
        *,
        owns_session: bool = True,
        limits: Limits | None = None,
        budget: Budget | None = None,
        name: str = "default",
        proxies: ProxyEnv | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.origin = URL(self.base_url).origin()
        self.proxies = proxies if proxies is not None else ProxyEnv.from_environ(os.environ)
        self._proxy = self.proxies.route(self.origin)
        self.session = session
        self.limits = limits or Limits()
        self.budget = budget or Budget(self.limits)
        self.auth = Authenticator(
            session, credential, small_timeout(self.limits), proxies=self.proxies
        )
        self._owns_session = owns_session
        self.health = Reachability(name, self.limits.upstream_probe_interval)
        self._small = small_timeout(self.limits)
        self._stream = aiohttp.ClientTimeout(
            total=None,
            connect=connect_timeout(self.limits),
            sock_connect=self.limits.upstream_connect_timeout,
            sock_read=self.limits.blob_idle_timeout,
        )

    @classmethod
    def create(
        cls,
        base_url: str,
        limits: Limits,
        credential: Credential | None = None,
        ca_file: Path | None = None,
    ) -> Upstream:
        """Build the shared session. Must be called inside a running event loop."""
        return cls(base_url, new_session(limits, ca_file), credential, limits=limits)

    async def close(self) -> None:
        if self._owns_session:
            await self.session.close()

    async def probe(self) -> UpstreamState:
        """Ask ``/v2/`` without credentials: 200 or 401 (a challenge) means it serves."""
        try:
            async with self.send("GET", "/v2/", CIMultiDict()) as response:
                status = response.status
        except GatekeeperError as exc:
            return UpstreamState(False, exc.message)
        if status in (200, 401):
            return UpstreamState(True, "")
        return UpstreamState(False, f"upstream {self.base_url} /v2/ answered {status}")

    async def state(self) -> UpstreamState:
        """The cached state; probed only when nothing refreshed it for the probe interval."""
        return await self.health.check(self.probe)

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
        stream: bool = False,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request upstream; connection failures raise ``UNAVAILABLE``, time-outs
        ``504``, malformed answers ``502``.

        ``own`` marks gatekeeper's own requests (evidence, evaluate, mirror mode): any
        client Authorization is dropped, gatekeeper's credentials are used, and a 401 is
        answered once (when the body can be sent again). ``stream``: the body is relayed
        as it comes (blobs, uploads): only an idle timeout applies to it, and it counts
        against the stream budget; otherwise the whole exchange has ``upstream_total_timeout``.
        """
        path = raw_path_qs.split("?", 1)[0]
        async with self.budget.hold(self.base_url, path, stream=stream):
            with metrics.upstream_exchange(method, own, stream) as answered:
                if not own:  # a client's request, relayed as it came: no auth handling here
                    async with self._request(
                        method, raw_path_qs, headers, data, follow_redirects, stream
                    ) as r:
                        answered()
                        yield r
                    return
                async with self._own(
                    method, raw_path_qs, headers, data, follow_redirects, stream
                ) as r:
                    answered()
                    yield r

    @asynccontextmanager
    async def _own(
        self,
        method: str,
        raw_path_qs: str,
        headers: CIMultiDict[str],
        data: Any,
        follow_redirects: bool,
        stream: bool,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        scope = scope_for(raw_path_qs.split("?", 1)[0], method)
        headers = CIMultiDict(headers)
        for name in CREDENTIALS:  # the client's, if a caller passed them on
            headers.popall(name, None)
        await self.auth.refresh()
        headers.update(self.auth.headers_for(scope))
        async with AsyncExitStack() as stack:
            response = await stack.enter_async_context(
                self._request(method, raw_path_qs, headers, data, follow_redirects, stream)
            )
            # Answer a challenge; if our answer is refused too, the credential may have
            # expired (a helper's short-lived token): ask its source once more.
            for attempt in range(2):
                challenge = response.headers.get("WWW-Authenticate")
                if response.status != 401 or not challenge or not _resendable(data):
                    break
                if attempt == 1 and not await self.auth.renew():
                    break
                retry = await self.auth.answer(challenge, scope)
                if retry is None:
                    break
                headers.popall("Authorization", None)
                headers.update(retry)
                response.release()
                response = await stack.enter_async_context(
                    self._request(method, raw_path_qs, headers, data, follow_redirects, stream)
                )
            yield response

    @asynccontextmanager
    async def _request(
        self,
        method: str,
        raw_path_qs: str,
        headers: CIMultiDict[str],
        data: Any,
        follow_redirects: bool,
        stream: bool,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        # A relayed client body (an upload) arrives at the client's pace: only the idle
        # timeout bounds it. Otherwise the answer's headers must come within the header
        # timeout once the request is out.
        header_deadline = self.limits.upstream_header_timeout if _resendable(data) else None
        if self._proxy is not None and self._proxy.headers and self.origin.scheme == "http":
            headers = CIMultiDict(headers)
            headers.update(self._proxy.extra_headers(self.origin))
        try:
            async with AsyncExitStack() as stack:
                async with asyncio.timeout(header_deadline):
                    response = await stack.enter_async_context(
                        self.session.request(
                            method,
                            self.url(raw_path_qs),
                            headers=headers,
                            data=data,
                            allow_redirects=follow_redirects,
                            max_redirects=5,
                            timeout=self._stream if stream else self._small,
                            proxy=self._proxy.url if self._proxy else None,
                            proxy_headers=self._proxy.headers if self._proxy else None,
                        )
                    )
                if response.status < 500:  # it answers (5xx: the probe decides)
                    self.health.saw(_UP)
                yield response
        except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
            _ERRORS["timeout"].inc()
            raise UpstreamTimeout(
                f"upstream registry {self.base_url} did not answer in time",
                {"upstream": self.base_url},
            ) from exc
        except aiohttp.ClientConnectionError as exc:
            _ERRORS["unavailable"].inc()
            error = Unavailable(
                f"upstream registry {self.base_url} is unavailable: {describe(exc)}",
                {"upstream": self.base_url},
            )
            if not isinstance(exc, aiohttp.ServerDisconnectedError):  # it was reached
                self.health.saw(UpstreamState(False, error.message))
            raise error from exc
        except aiohttp.TooManyRedirects as exc:
            _ERRORS["redirects"].inc()
            raise Unavailable(f"upstream registry {self.base_url} redirected too often") from exc
        except aiohttp.ClientError as exc:
            # Oversized or malformed headers, a broken body: the upstream answered, badly.
            _ERRORS["protocol"].inc()
            raise UpstreamProtocolError(
                f"upstream registry {self.base_url} sent a malformed response"
                f" ({type(exc).__name__})",
                {"upstream": self.base_url},
            ) from exc


_UP = UpstreamState(True, "")
_ERRORS = {kind: metrics.UPSTREAM_ERRORS.labels(kind) for kind in metrics.UPSTREAM_ERROR_KINDS}


def small_timeout(limits: Limits) -> aiohttp.ClientTimeout:
    """Time-outs of manifest, evidence and token requests: the whole exchange is bounded."""
    return aiohttp.ClientTimeout(
        total=limits.upstream_total_timeout,
        connect=connect_timeout(limits),
        sock_connect=limits.upstream_connect_timeout,
        sock_read=limits.upstream_header_timeout,
    )


# Connections beyond the budgets, for token requests made while a budget is held.
TOKEN_CONNECTIONS = 8


def connect_timeout(limits: Limits) -> float:
    """aiohttp's ``connect`` time-out: the TCP and TLS handshake, plus a moment of pool wait
    (the budgets keep the connector from queueing; only token requests beyond
    ``TOKEN_CONNECTIONS`` could)."""
    return limits.upstream_connect_timeout + 1.0


def new_session(limits: Limits, ca_file: Path | None = None) -> aiohttp.ClientSession:
    """The one ClientSession a process uses for all upstreams (connection pooling)."""
    ssl_context: ssl.SSLContext | bool = True if ca_file is None else upstream_tls(ca_file)
    connector = aiohttp.TCPConnector(
        limit=limits.upstream_connections + TOKEN_CONNECTIONS,
        ttl_dns_cache=300,
        ssl=ssl_context,
        keepalive_timeout=limits.client_idle_timeout,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=small_timeout(limits),
        auto_decompress=False,  # bytes pass through exactly as the upstream sent them
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        trust_env=False,
        # Relayed with iter_any, whatever arrived: 256 KiB measured as cheap as 1 MiB per GiB
        # (config.py, stream_chunk_bytes); tiny fixed chunks were what cost 2-3x.
        read_bufsize=limits.stream_chunk_bytes,
    )


def upstream_tls(ca_file: Path) -> ssl.SSLContext:
    """The system's CAs plus ``ca_file`` (``--upstream-ca``): adds a private CA, replaces
    nothing, so public upstreams (Docker Hub in mirror mode) keep verifying.

    ``ssl.create_default_context(cafile=…)`` would load *only* that file; the default
    verify paths (``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set) are loaded first here.
    """
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"--upstream-ca {ca_file}: not a readable PEM CA bundle ({exc})"
        ) from None
    return context


def _resendable(data: Any) -> bool:
    return data is None or isinstance(data, bytes)

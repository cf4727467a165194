"""Upstream authentication for gatekeeper's own requests: Bearer tokens and Basic.

Docker Registry token flow (distribution ``docs/spec/auth/token.md``): a request answered
``401`` with ``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` is retried once with a
token from ``realm``; tokens are cached per (realm, service, scope) until ``expires_in``
(default 60 s) runs out, and used up front for later requests with the same scope.
Anonymous tokens are fetched when there is no credential (Docker Hub's public images).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from gatekeeper.errors import Unavailable, UpstreamTimeout
from gatekeeper.upstream.credentials import Credential
from gatekeeper.upstream.live_credentials import CredentialSource, FixedCredential
from gatekeeper.upstream.proxy_env import ProxyEnv

log = logging.getLogger("gatekeeper.upstream.auth")

_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_EXPIRY_MARGIN = 10.0  # renew this many seconds before a token expires
_DEFAULT_EXPIRES = 60.0  # token.md: "if omitted, 60 seconds"
_MAX_TOKEN_BYTES = 64 * 1024


class TokenRefused(Unavailable):
    """The token endpoint refused gatekeeper's credential (401/403)."""


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # "bearer" | "basic"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() not in ("bearer", "basic"):
        return None
    params = {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


def scope_for(path: str, method: str) -> str | None:
    """``repository:<name>:pull`` (``pull,push`` for writes) for a /v2/<name>/… path."""
    for marker in ("/manifests/", "/blobs/", "/tags/list", "/referrers/"):
        if path.startswith("/v2/") and marker in path:
            name = path[4 : path.rindex(marker)]
            actions = "pull" if method in ("GET", "HEAD") else "pull,push"
            return f"repository:{name}:{actions}"
    return None


class Authenticator:
    """Authorization headers for one upstream, from one credential (or none: anonymous)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credential: Credential | CredentialSource | None,
        timeout: aiohttp.ClientTimeout | None = None,
        *,
        proxies: ProxyEnv | None = None,
    ) -> None:
        self._session = session
        self._proxies = proxies or ProxyEnv.none()
        self._timeout = timeout or session.timeout
        if credential is None or isinstance(credential, Credential):
            credential = FixedCredential(credential)
        self._source: CredentialSource = credential
        self.credential = credential.current()  # refresh() asks helpers before requests
        self._tokens: dict[str, tuple[str, float]] = {}  # scope → (token, expires at)
        self._challenge: Challenge | None = None  # the last challenge seen (realm, service)
        self._locks: dict[str, asyncio.Lock] = {}
        self.token_requests = 0

    async def refresh(self) -> None:
        """Take the credential in force now (a reloaded file, a helper's newer answer);
        tokens obtained with another one are dropped."""
        credential = await self._source.get()
        if credential != self.credential:
            self.credential = credential
            self._tokens.clear()

    async def renew(self) -> bool:
        """The upstream refused our credential: ask its source again. True when a
        different credential is now in force (worth one more try)."""
        if not self._source.expire():
            return False
        before = self.credential
        await self.refresh()
        return self.credential != before

    def headers_for(self, scope: str | None) -> CIMultiDict[str]:
        """Authorization to send up front: a cached token for ``scope``, or Basic."""
        headers: CIMultiDict[str] = CIMultiDict()
        if self._challenge is not None and self._challenge.scheme == "basic":
            basic = self.basic()
            if basic:
                headers["Authorization"] = basic
            return headers
        if scope is not None:
            cached = self._tokens.get(scope)
            if cached is not None and cached[1] > time.monotonic():
                headers["Authorization"] = f"Bearer {cached[0]}"
        return headers

    async def answer(self, header: str, scope: str | None) -> CIMultiDict[str] | None:
        """Headers to retry with after a 401 carrying ``header``; None when we cannot."""
        challenge = parse_challenge(header)
        if challenge is None:
            return None
        self._challenge = challenge
        if challenge.scheme == "basic":
            basic = self.basic()
            return CIMultiDict(Authorization=basic) if basic else None
        wanted = challenge.params.get("scope") or scope or ""
        lock = self._locks.setdefault(wanted, asyncio.Lock())
        async with lock:  # one token request per scope, however many requests wait on it
            cached = self._tokens.get(wanted)
            if cached is None or cached[1] <= time.monotonic():
                try:
                    token, expires_in = await self._fetch_token(challenge, wanted)
                except TokenRefused:
                    if not await self.renew():  # an expired helper credential: ask again
                        raise
                    token, expires_in = await self._fetch_token(challenge, wanted)
                self._tokens[wanted] = (token, time.monotonic() + expires_in - _EXPIRY_MARGIN)
                if scope and scope != wanted:
                    self._tokens[scope] = self._tokens[wanted]
            return CIMultiDict(Authorization=f"Bearer {self._tokens[wanted][0]}")

    def basic(self) -> str | None:
        """``Basic …`` for gatekeeper's own credential, or None without a username."""
        cred = self.credential
        if cred is None or not cred.username:
            return None
        raw = f"{cred.username}:{cred.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    async def _fetch_token(self, challenge: Challenge, scope: str) -> tuple[str, float]:
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise Unavailable("upstream token challenge has no usable realm")
        # The realm may carry a token in its query: messages name only where it points.
        where = _redact(realm)
        params = {"service": challenge.params.get("service", "")}
        if scope:
            params["scope"] = scope
        self.token_requests += 1
        cred = self.credential
        route = self._proxies.route(URL(realm))
        proxy, proxy_headers = (route.url, route.headers) if route else (None, None)
        try:
            if cred is not None and cred.identity_token:
                form = {
                    **params,
                    "grant_type": "refresh_token",
                    "client_id": "gatekeeper",
                    "refresh_token": cred.identity_token,
                }
                request = self._session.post(
                    realm,
                    data=form,
                    headers=route.extra_headers(URL(realm)) if route else None,
                    timeout=self._timeout,
                    proxy=proxy,
                    proxy_headers=proxy_headers,
                )
            else:
                headers = {"Authorization": b} if (b := self.basic()) else {}
                headers.update(route.extra_headers(URL(realm)) if route else {})
                request = self._session.get(
                    realm,
                    params=params,
                    headers=headers,
                    timeout=self._timeout,
                    proxy=proxy,
                    proxy_headers=proxy_headers,
                )
            async with request as response:
                if response.status in (401, 403):
                    raise TokenRefused(
                        f"token endpoint {where} answered {response.status} for scope {scope!r}"
                    )
                if response.status != 200:
                    raise Unavailable(
                        f"token endpoint {where} answered {response.status} for scope {scope!r}"
                    )
                body = await response.content.read(_MAX_TOKEN_BYTES)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"token endpoint {where} did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise Unavailable(
                f"token endpoint {where} is unavailable ({type(exc).__name__})"
            ) from exc
        return _token_from(body, where)


def _redact(url: str) -> str:
    """Scheme, host and path of ``url``: no user info, query or fragment."""
    try:
        parsed = URL(url)
    except ValueError:
        return "<invalid realm>"
    return str(parsed.with_user(None).with_query(None).with_fragment(None))


def _token_from(body: bytes, realm: str) -> tuple[str, float]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise Unavailable(f"token endpoint {realm} sent no JSON") from exc
    token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise Unavailable(f"token endpoint {realm} sent no token")
    expires = doc.get("expires_in")
    valid = isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0
    seconds = float(expires) if valid else _DEFAULT_EXPIRES
    return token, max(seconds, _EXPIRY_MARGIN + 1)

"""A Docker Registry v2 token server, so tests can run CNCF distribution with real token auth.

Implements what clients and distribution 2.8 actually use of the Token Authentication
Specification (distribution ``docs/spec/auth/token.md``, ``jwt.md``, ``oauth.md``):

- ``GET /token?service=S&scope=repository:NAME:pull,push[&scope=…][&account=U]`` with optional
  HTTP Basic credentials → ``{"token", "access_token", "expires_in", "issued_at"}`` (plus
  ``refresh_token`` when ``offline_token=true`` and the client authenticated);
- ``POST /token`` (OAuth2 form: ``grant_type=password`` with ``username``/``password``, or
  ``grant_type=refresh_token``; containerd uses it when it has credentials, docker for identity
  tokens) → ``{"access_token", "expires_in", "issued_at", "scope"[, "refresh_token"]}``.

Tokens are ES256 JWTs. Distribution 2.8 finds the signing key from the JWT header in one of two
ways, both supported here (``key_mode``): ``x5c`` (the signing certificate, verified against the
registry's ``rootcertbundle``) or ``kid`` (the libtrust fingerprint of a key whose certificate is
in the bundle). Claims: ``iss``, ``sub``, ``aud`` (= service), ``exp``, ``nbf``, ``iat``, ``jti``,
``access: [{type, name, actions}]``.

Access: anonymous clients get ``pull`` on repositories matching ``anonymous_pull`` (fnmatch globs,
``*`` crosses ``/``) and nothing else, with a 200 and an empty grant as Docker Hub does; a known
user gets what they asked for on repositories matching their globs in ``grants`` (default: all),
``registry:catalog:*`` included; a wrong password is a 401. Every request is recorded in
:attr:`TokenServer.requests`, so tests can prove token caching.

Note distribution accepts a token until ``exp`` + 60 s leeway; :attr:`TokenServer.backdate` mints
tokens that are already dead (to test re-authentication) without waiting.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import fnmatch
import hashlib
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.helpers import pki

KeyMode = Literal["x5c", "kid"]


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered."""

    method: str
    account: str | None  # the authenticated user, None when anonymous
    scopes: tuple[str, ...]
    status: int
    grant_type: str | None = None  # POST only


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``repository:library/foo:pull,push`` (the name may hold a ``host:port``)."""
        kind, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        if not kind or not name:
            raise ValueError(f"bad scope {text!r}")
        return cls(kind, name, tuple(a for a in actions.split(",") if a))


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """docker/libtrust's key ID: SHA-256 of the DER SPKI, first 240 bits, base32, ``:``-grouped."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def sign_jwt(claims: Mapping[str, object], signer: pki.KeyPair, key_mode: KeyMode) -> str:
    """A compact ES256 JWS over ``claims`` whose header names ``signer`` by x5c or kid."""
    header: dict[str, object] = {"typ": "JWT", "alg": "ES256"}
    if key_mode == "x5c":
        header["x5c"] = [base64.b64encode(signer.cert_der).decode()]
    else:
        header["kid"] = libtrust_key_id(signer.key.public_key())
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    r, s = decode_dss_signature(signer.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _jwt_part(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def decode_jwt_header(token: str) -> dict[str, object]:
    """The header of a JWT, unverified (for assertions in tests)."""
    return _jwt_part(token, 0)


def decode_jwt_claims(token: str) -> dict[str, object]:
    """The claims of a JWT, unverified (for assertions in tests)."""
    return _jwt_part(token, 1)


@dataclass
class TokenServer:
    """Configuration and live state of one token server; see :func:`start_token_server`."""

    workdir: Path
    users: Mapping[str, str] = field(default_factory=dict)
    anonymous_pull: Sequence[str] = ()
    grants: Mapping[str, Sequence[str]] = field(default_factory=dict)
    service: str = "gatekeeper-test-registry"
    issuer: str = "gatekeeper-test-token-server"
    key_mode: KeyMode = "x5c"
    expires_in: int = 300  # mutable while running
    backdate: int = 0  # seconds to shift iat/nbf/exp into the past; mutable while running
    tls: pki.KeyPair | None = None  # serve the realm over https with this certificate
    requests: list[TokenRequest] = field(default_factory=list)
    url: str = ""
    ca: pki.KeyPair = field(init=False)
    signer: pki.KeyPair = field(init=False)
    bundle_path: Path = field(init=False)

    def __post_init__(self) -> None:
        keys = self.workdir / "token-keys"
        self.ca = pki.make_ca(keys, "token-ca", "gatekeeper test token CA")
        self.signer = pki.issue(
            self.ca, keys, "token-signer", common_name="token signer", server=False
        )
        # The CA is the x5c trust anchor; the signer's own certificate gives the kid lookup
        # its key (distribution indexes every bundle certificate's key by libtrust ID).
        self.bundle_path = keys / "rootcertbundle.pem"
        self.bundle_path.write_bytes(self.ca.cert_pem + self.signer.cert_pem)
        self._refresh_tokens: dict[str, str] = {}

    # -- what tests use ---------------------------------------------------------------------

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def registry_auth_config(self) -> str:
        """The ``auth:`` block for ``processes.start_registry(workdir, extra_config=…)``."""
        return (
            f"auth:\n  token:\n    realm: {self.realm}\n    service: {self.service}\n"
            f"    issuer: {self.issuer}\n    rootcertbundle: {self.bundle_path}\n"
        )

    def count(
        self,
        *,
        account: str | None = None,
        anonymous: bool | None = None,
        scope: str | None = None,
        status: int | None = None,
    ) -> int:
        """How many token requests: all, or only by ``account`` / anonymous (``anonymous=True``)
        / authenticated (``anonymous=False``) / asking for ``scope`` / answered ``status``."""
        return sum(
            1
            for r in self.requests
            if (account is None or r.account == account)
            and (anonymous is None or (r.account is None) == anonymous)
            and (scope is None or scope in r.scopes)
            and (status is None or r.status == status)
        )

    def issue(self, account: str | None, scopes: Sequence[str]) -> str:
        """A token as the server would grant it (for tests that bypass HTTP)."""
        return self._token(account, [Scope.parse(s) for s in scopes])[0]

    # -- the token logic ----------------------------------------------------------------------

    def _allowed(self, account: str | None, scope: Scope) -> tuple[str, ...]:
        if scope.type == "registry" and scope.name == "catalog":
            return scope.actions if account is not None else ()
        if scope.type != "repository":
            return ()
        if account is None:
            public = any(fnmatch.fnmatchcase(scope.name, g) for g in self.anonymous_pull)
            return ("pull",) if public and "pull" in scope.actions else ()
        globs = self.grants.get(account, ("*",))
        return scope.actions if any(fnmatch.fnmatchcase(scope.name, g) for g in globs) else ()

    def _token(self, account: str | None, scopes: Sequence[Scope]) -> tuple[str, int, str]:
        now = int(time.time()) - self.backdate
        access = []
        for scope in scopes:
            actions = self._allowed(account, scope)
            if actions:
                access.append({"type": scope.type, "name": scope.name, "actions": list(actions)})
        claims = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,
            "exp": now + self.expires_in,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        issued = datetime.datetime.fromtimestamp(now, datetime.UTC)
        return (
            sign_jwt(claims, self.signer, self.key_mode),
            self.expires_in,
            issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def _basic(self, request: web.Request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ("", "")
        return user, password

    def _check(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        return expected is not None and secrets.compare_digest(expected, password)

    async def _get(self, request: web.Request) -> web.Response:
        raw_scopes = tuple(
            s for value in request.query.getall("scope", []) for s in value.split(" ") if s
        )
        creds = self._basic(request)
        if creds is not None and not self._check(*creds):
            self.requests.append(TokenRequest("GET", None, raw_scopes, 401))
            return _unauthorized()
        account = creds[0] if creds else None
        if request.query.get("service", self.service) != self.service:
            self.requests.append(TokenRequest("GET", account, raw_scopes, 400))
            return _oauth_error(400, "invalid_request", "unknown service")
        try:
            scopes = [Scope.parse(s) for s in raw_scopes]
        except ValueError as exc:
            self.requests.append(TokenRequest("GET", account, raw_scopes, 400))
            return _oauth_error(400, "invalid_scope", str(exc))
        token, expires_in, issued_at = self._token(account, scopes)
        body: dict[str, object] = {
            "token": token,
            "access_token": token,
            "expires_in": expires_in,
            "issued_at": issued_at,
        }
        if account is not None and request.query.get("offline_token") == "true":
            body["refresh_token"] = self._new_refresh_token(account)
        self.requests.append(TokenRequest("GET", account, raw_scopes, 200))
        return web.json_response(body)

    async def _post(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant_type = str(form.get("grant_type", ""))
        raw_scopes = tuple(str(form.get("scope", "")).split())
        account: str | None = None
        if grant_type == "password":
            user, password = str(form.get("username", "")), str(form.get("password", ""))
            if self._check(user, password):
                account = user
        elif grant_type == "refresh_token":
            account = self._refresh_tokens.get(str(form.get("refresh_token", "")))
        else:
            self.requests.append(TokenRequest("POST", None, raw_scopes, 400, grant_type))
            return _oauth_error(400, "unsupported_grant_type", grant_type)
        if account is None:
            self.requests.append(TokenRequest("POST", None, raw_scopes, 401, grant_type))
            return _oauth_error(401, "invalid_grant", "bad credentials or refresh token")
        try:
            scopes = [Scope.parse(s) for s in raw_scopes]
        except ValueError as exc:
            self.requests.append(TokenRequest("POST", account, raw_scopes, 400, grant_type))
            return _oauth_error(400, "invalid_scope", str(exc))
        token, expires_in, issued_at = self._token(account, scopes)
        body: dict[str, object] = {
            "access_token": token,
            "expires_in": expires_in,
            "issued_at": issued_at,
            "scope": " ".join(raw_scopes),
        }
        if form.get("access_type") == "offline" or grant_type == "refresh_token":
            body["refresh_token"] = (
                str(form["refresh_token"])
                if grant_type == "refresh_token"
                else self._new_refresh_token(account)
            )
        self.requests.append(TokenRequest("POST", account, raw_scopes, 200, grant_type))
        return web.json_response(body)

    def _new_refresh_token(self, account: str) -> str:
        token = secrets.token_urlsafe(32)
        self._refresh_tokens[token] = account
        return token

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self._get)
        app.router.add_post("/token", self._post)
        return app


def _unauthorized() -> web.Response:
    return web.json_response(
        {"details": "incorrect username or password"},
        status=401,
        headers={"WWW-Authenticate": 'Basic realm="token server"'},
    )


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


@contextlib.contextmanager
def start_token_server(
    workdir: Path,
    *,
    users: Mapping[str, str] | None = None,
    anonymous_pull: Sequence[str] = (),
    grants: Mapping[str, Sequence[str]] | None = None,
    service: str = "gatekeeper-test-registry",
    issuer: str = "gatekeeper-test-token-server",
    key_mode: KeyMode = "x5c",
    expires_in: int = 300,
    tls: pki.KeyPair | None = None,
) -> Iterator[TokenServer]:
    """Run a :class:`TokenServer` on a free loopback port in a background thread.

    Works from sync and async tests alike: the server has its own event loop.
    """
    server = TokenServer(
        workdir,
        users=dict(users or {}),
        anonymous_pull=anonymous_pull,
        grants=dict(grants or {}),
        service=service,
        issuer=issuer,
        key_mode=key_mode,
        expires_in=expires_in,
        tls=tls,
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="token-server", daemon=True)
    thread.start()
    runner = web.AppRunner(server.app(), access_log=None)

    async def start() -> int:
        await runner.setup()
        ssl_context = None
        if server.tls is not None:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(server.tls.cert_path, server.tls.key_path)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        return int(runner.addresses[0][1])

    try:
        port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        server.url = f"{'https' if server.tls else 'http'}://127.0.0.1:{port}"
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

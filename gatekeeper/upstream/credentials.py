"""gatekeeper's own upstream credentials, from a Docker ``config.json``-format file.

``{"auths": {"registry.example:5000": {"auth": base64("user:pass")}}}``; an entry may carry
``username``/``password`` instead of ``auth``, or an ``identitytoken`` (OAuth2 refresh token).
Docker Hub's key ``https://index.docker.io/v1/`` is accepted for ``registry-1.docker.io``.

Credential helpers as Docker resolves them: ``credHelpers`` (``{host: name}``) names the
helper for one registry, ``credsStore`` (``name``) the helper for every other one; either
wins over ``auths`` for the hosts it covers. :meth:`CredentialStore.lookup` names the helper
(:class:`HelperRef`); running it is :mod:`gatekeeper.upstream.cred_helper`'s job.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from gatekeeper.errors import ConfigError

_DOCKER_HUB_ALIASES = (
    "https://index.docker.io/v1/",
    "index.docker.io",
    "docker.io",
    "registry-1.docker.io",
)


@dataclass(frozen=True, slots=True)
class Credential:
    username: str = ""
    password: str = ""
    identity_token: str = ""

    def __repr__(self) -> str:  # never print secrets
        return f"Credential(username={self.username!r}, secret=<redacted>)"


_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"  # the key Docker gives helpers for Hub


@dataclass(frozen=True, slots=True)
class HelperRef:
    """Run ``docker-credential-<name> get`` with ``server`` on stdin for the credential."""

    name: str
    server: str


class CredentialStore:
    def __init__(
        self,
        entries: dict[str, Credential],
        helpers: dict[str, str] | None = None,
        store: str | None = None,
    ) -> None:
        self._entries = entries
        self._helpers = helpers or {}  # credHelpers: host key → helper name
        self._store = store  # credsStore: helper for every host not in _helpers

    @classmethod
    def empty(cls) -> CredentialStore:
        return cls({})

    @classmethod
    def load(cls, path: Path) -> CredentialStore:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read upstream credentials {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise ConfigError(f'{path}: expected {{"auths": {{host: {{...}}}}}}')
        auths = doc.get("auths", {})
        helpers = doc.get("credHelpers", {})
        store = doc.get("credsStore")
        if not isinstance(auths, dict) or not isinstance(helpers, dict):
            raise ConfigError(f'{path}: expected {{"auths": {{host: {{...}}}}}}')
        if not (auths or helpers or store):
            raise ConfigError(f"{path}: no auths, credHelpers or credsStore")
        entries: dict[str, Credential] = {}
        if not store:  # with a credsStore, auths entries only list hosts (Docker)
            for host, entry in auths.items():
                entries[_host_key(host)] = _credential(path, host, entry)
        named: dict[str, str] = {}
        for host, name in helpers.items():
            named[_host_key(host)] = _helper_name(path, f"credHelpers[{host!r}]", name)
        if store is not None:
            store = _helper_name(path, "credsStore", store)
        return cls(entries, named, store or None)

    def for_url(self, url: str) -> Credential | None:
        """The credential written in ``auths`` for the host (and port) of ``url``, if any."""
        found = self.lookup(url)
        return found if isinstance(found, Credential) else None

    def lookup(self, url: str) -> Credential | HelperRef | None:
        """What gives the credential for ``url``: a helper (``credHelpers``, then
        ``credsStore``), an ``auths`` entry, or nothing (anonymous)."""
        keys = _keys(url)
        for key in keys:
            if key in self._helpers:
                return HelperRef(self._helpers[key], _server(url))
        if self._store is not None:
            return HelperRef(self._store, _server(url))
        for key in keys:
            if key in self._entries:
                return self._entries[key]
        return None


def _keys(url: str) -> list[str]:
    parsed = URL(url)
    host = parsed.host or ""
    keys = [f"{host}:{parsed.port}", host] if parsed.port else [host]
    if host in _DOCKER_HUB_ALIASES:
        keys += list(_DOCKER_HUB_ALIASES)
    return keys


def _server(url: str) -> str:
    """The server name a helper is asked for: ``host[:port]``, Docker Hub's own key."""
    parsed = URL(url)
    if parsed.host in _DOCKER_HUB_ALIASES:
        return DOCKER_HUB_SERVER
    return f"{parsed.host}:{parsed.port}" if parsed.explicit_port else str(parsed.host)


def _helper_name(path: Path, where: str, name: object) -> str:
    # The name becomes part of a program name looked up on PATH: no separators, no options.
    if not isinstance(name, str) or not _HELPER_NAME.match(name):
        raise ConfigError(f"{path}: {where} must be a helper name like 'ecr-login'")
    return name


def _host_key(host: str) -> str:
    if host.startswith(("http://", "https://")):
        parsed = URL(host)
        if host.rstrip("/").endswith("index.docker.io/v1"):
            return "https://index.docker.io/v1/"
        return f"{parsed.host}:{parsed.port}" if parsed.explicit_port else str(parsed.host)
    return host.rstrip("/")


def _credential(path: Path, host: str, entry: object) -> Credential:
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: auths[{host!r}] must be an object")
    token = entry.get("identitytoken") or ""
    if entry.get("auth"):
        try:
            user, _, password = (
                base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError, TypeError) as exc:
            raise ConfigError(f"{path}: auths[{host!r}].auth is not base64(user:pass)") from exc
        return Credential(user, password, str(token))
    username, password = entry.get("username") or "", entry.get("password") or ""
    if not (username and password) and not token:
        raise ConfigError(
            f"{path}: auths[{host!r}] has no auth, username/password or identitytoken"
        )
    return Credential(str(username), str(password), str(token))

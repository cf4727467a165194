"""gatekeeper's own upstream credentials, from a Docker ``config.json``-format file.

``{"auths": {"registry.example:5000": {"auth": base64("user:pass")}}}``; an entry may carry
``username``/``password`` instead of ``auth``, or an ``identitytoken`` (OAuth2 refresh token).
Docker Hub's key ``https://index.docker.io/v1/`` is accepted for ``registry-1.docker.io``.
"""

from __future__ import annotations

import base64
import binascii
import json
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


class CredentialStore:
    def __init__(self, entries: dict[str, Credential]) -> None:
        self._entries = entries

    @classmethod
    def empty(cls) -> CredentialStore:
        return cls({})

    @classmethod
    def load(cls, path: Path) -> CredentialStore:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read upstream credentials {path}: {exc}") from exc
        auths = doc.get("auths") if isinstance(doc, dict) else None
        if not isinstance(auths, dict):
            raise ConfigError(f'{path}: expected {{"auths": {{host: {{...}}}}}}')
        entries: dict[str, Credential] = {}
        for host, entry in auths.items():
            entries[_host_key(host)] = _credential(path, host, entry)
        return cls(entries)

    def for_url(self, url: str) -> Credential | None:
        """The credential for the host (and port) of ``url``, if any."""
        parsed = URL(url)
        host = parsed.host or ""
        keys = [f"{host}:{parsed.port}", host] if parsed.port else [host]
        if host in _DOCKER_HUB_ALIASES:
            keys += list(_DOCKER_HUB_ALIASES)
        for key in keys:
            if key in self._entries:
                return self._entries[key]
        return None


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

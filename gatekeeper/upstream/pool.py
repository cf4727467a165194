"""Build the upstreams a process talks to: one shared session, credentials per host."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gatekeeper.config import Settings
from gatekeeper.errors import ConfigError
from gatekeeper.upstream.budget import Budget
from gatekeeper.upstream.client import Upstream, new_session
from gatekeeper.upstream.credentials import Credential, CredentialStore
from gatekeeper.upstream.live_credentials import LiveCredentials
from gatekeeper.upstream.proxy_env import ProxyEnv

log = logging.getLogger("gatekeeper.upstream")


def load_credentials(settings: Settings) -> LiveCredentials:
    """``--upstream-credentials`` (config.json format, re-read on change; credential
    helpers run as Docker runs them), else the ``*_FILE`` variables.

    ``GATEKEEPER_UPSTREAM_USERNAME`` + ``GATEKEEPER_UPSTREAM_PASSWORD_FILE`` give one
    credential for the default upstream without any secret on the command line.
    """
    limits = settings.limits
    if settings.credentials is not None:
        return LiveCredentials.load(
            settings.credentials,
            poll=settings.policy_poll_interval,
            max_age=limits.credential_max_age,
            helper_timeout=limits.credential_helper_timeout,
        )
    username = os.environ.get("GATEKEEPER_UPSTREAM_USERNAME", "")
    password_file = os.environ.get("GATEKEEPER_UPSTREAM_PASSWORD_FILE", "")
    if username and password_file:
        try:
            password = Path(password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read GATEKEEPER_UPSTREAM_PASSWORD_FILE: {exc}") from exc
        host = settings.upstream.split("://", 1)[1].split("/", 1)[0]
        return LiveCredentials(CredentialStore({host: Credential(username, password)}))
    return LiveCredentials(CredentialStore.empty())


def build_upstreams(settings: Settings) -> tuple[Upstream, dict[str, Upstream]]:
    """The default upstream and the mirror namespace routes, sharing one session."""
    credentials = load_credentials(settings)  # first: a bad file leaves no session open
    proxies = ProxyEnv.from_environ(os.environ)
    if proxies.describe():
        log.info("upstream connections through proxies: %s", proxies.describe())
    session = new_session(settings.limits, settings.upstream_ca)
    budget = Budget(settings.limits)
    made: dict[str, Upstream] = {}

    def upstream(url: str, name: str) -> Upstream:
        if url not in made:
            made[url] = Upstream(
                url,
                session,
                credentials.for_url(url),
                owns_session=False,
                limits=settings.limits,
                budget=budget,
                name=name,
                proxies=proxies,
            )
        return made[url]

    default = upstream(settings.upstream, "default")
    return default, {name: upstream(url, name) for name, url in settings.namespaces}

"""Secrets baked into an image config, found by name and by value (pure).

By value: the regex detectors of ``detect-secrets`` (Yelp), each a known kind of credential
(AWS keys, private keys, GitHub/GitLab/Slack/Stripe/npm/PyPI/OpenAI tokens, JWTs, passwords
in URLs, …), called on strings with ``analyze_string`` (no files, no global settings, and
never ``verify``, which would send the secret to its issuer). Not used: the entropy detectors
(every official image carries checksums and GPG fingerprints in ENV), the keyword detector
(names are judged here, with the ``_FILE`` convention) and the public IP detector (an
address is not a secret). detect-secrets' own false-positive filters for a matched value
(templates such as ``${TOKEN}``, sequential strings, UUIDs) apply as in its scans.

A :class:`SecretFinding` names where the secret is and what kind it is; the value is never
kept, so it cannot reach a refusal, a log line or ``gatekeeper lint`` output. The gatherer
scans each image once (:func:`find_secrets`, in a worker thread: a 4 MiB config takes a
second), and keeps the findings with the image's facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Literal

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.filters.heuristic import (
    is_not_alphanumeric_string,
    is_potential_uuid,
    is_prefixed_with_dollar_sign,
    is_sequential_string,
    is_templated_secret,
)
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.ip_public import IPPublicDetector

from gatekeeper.oci.image_config import ImageFacts, SecretFinding

__all__ = ["NAMED_LIKE_A_SECRET", "SecretFinding", "find_secrets", "secret_kinds"]

# Names that usually hold a credential. A name ending in _FILE/_PATH/_DIR points at one
# (the POSTGRES_PASSWORD_FILE convention) and is the recommended way, so it passes.
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API[_.-]?KEY|PRIVATE[_.-]?KEY|ACCESS[_.-]?KEY"
    r"|CREDENTIAL",
    re.IGNORECASE,
)
_SECRET_POINTER = re.compile(r"[_.-](FILE|PATH|DIR)$", re.IGNORECASE)
NAMED_LIKE_A_SECRET = "named like a secret"  # noqa: S105 (a kind, not a password)
# A value is scanned up to this many characters (ENV entries are cut at 4096 when parsed;
# a PEM private key header comes first, so a longer value loses nothing that is detected).
MAX_SCANNED = 8192
_NOT_SECRETS = (
    is_templated_secret,
    is_prefixed_with_dollar_sign,
    is_sequential_string,
    is_potential_uuid,
    is_not_alphanumeric_string,
)


@cache
def detectors() -> tuple[RegexBasedDetector, ...]:
    """One instance of each detect-secrets regex detector, but the public IP one."""
    plugins: list[type[BasePlugin]] = list(get_mapping_from_secret_type_to_class().values())
    found = [
        plugin()
        for plugin in plugins
        if issubclass(plugin, RegexBasedDetector) and plugin is not IPPublicDetector
    ]
    return tuple(sorted(found, key=lambda plugin: plugin.secret_type))


def secret_kinds(text: str) -> tuple[str, ...]:
    """The kinds of secret detect-secrets' detectors recognise in ``text`` (no values)."""
    text = text[:MAX_SCANNED]
    kinds = []
    for detector in detectors():
        for match in detector.analyze_string(text):
            if not any(skip(match) for skip in _NOT_SECRETS):
                kinds.append(detector.secret_type)
                break
    return tuple(kinds)


def named_like_a_secret(name: str) -> bool:
    """A name that usually holds a credential, not a pointer to one (``…_FILE``)."""
    return bool(_SECRET_NAME.search(name)) and not _SECRET_POINTER.search(name)


def find_secrets(facts: ImageFacts) -> tuple[SecretFinding, ...]:
    """Every ENV entry and label of ``facts`` holding a secret by its name or its value."""
    return env_secrets(facts.env) + label_secrets(facts.labels)


def env_secrets(env: Iterable[str]) -> tuple[SecretFinding, ...]:
    """Every ``NAME=value`` entry holding a secret by its name or its value."""
    found: list[SecretFinding] = []
    for entry in env:
        name, _, value = entry.partition("=")
        found += _judge("env", name, value)
    return tuple(found)


def label_secrets(labels: Mapping[str, str]) -> tuple[SecretFinding, ...]:
    """Every label holding a secret by its key or its value."""
    found: list[SecretFinding] = []
    for key, value in labels.items():
        found += _judge("label", key, value)
    return tuple(found)


def _judge(source: Literal["env", "label"], name: str, value: str) -> list[SecretFinding]:
    if not value.strip():
        return []
    # The name rides along as context: the AWS secret-key detector needs an ``aws…key``
    # assignment before the 40 characters, as in ``AWS_SECRET_ACCESS_KEY="…"``.
    kinds = list(secret_kinds(f'{name}="{value}"'))
    if not kinds and named_like_a_secret(name):
        kinds.append(NAMED_LIKE_A_SECRET)
    return [SecretFinding(source, name, kind) for kind in kinds]

"""Facts an image's config blob states about it, for the Docker security checklist (pure).

Image-spec ``config.md``: ``config.User``, ``config.Env``, ``config.Labels``,
``config.Healthcheck`` (Docker's extension), ``created``, ``history[].created_by``. An index
is judged by all its platform images: :func:`merge_platforms` keeps the worst of each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gatekeeper.errors import ManifestInvalid
from gatekeeper.oci.manifest import Manifest, json_object
from gatekeeper.policy.evidence import ImageFacts
from gatekeeper.policy.image_checks import runs_as_root

MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_ENV = 4096
MAX_HISTORY = 4096
_FRACTION = re.compile(r"(\.\d+)")


def parse_image_config(data: bytes, manifest: Manifest) -> ImageFacts:
    """ImageFacts from a config blob; size is the config plus its layers as listed."""
    doc = json_object(data, "image config")
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ManifestInvalid("image config 'config' is not an object")
    size = sum(layer.size for layer in manifest.layers) + len(data)
    return ImageFacts(
        user=_string(config.get("User")),
        env=tuple(_strings(config.get("Env"), MAX_ENV)),
        healthcheck=_has_healthcheck(config.get("Healthcheck")),
        created=_time(doc.get("created")),
        labels={
            k: v
            for k, v in (config.get("Labels") or {}).items()
            if isinstance(k, str) and isinstance(v, str)
        }
        if isinstance(config.get("Labels"), dict)
        else {},
        history=tuple(
            _string(h.get("created_by"))
            for h in _list(doc.get("history"))[:MAX_HISTORY]
            if isinstance(h, dict)
        ),
        size_bytes=size,
    )


def merge_platforms(platforms: Sequence[ImageFacts]) -> ImageFacts:
    """One ImageFacts for an index: what would fail for any platform fails for the index."""
    if not platforms:
        raise ManifestInvalid("index lists no platform images to check")
    users = [facts.user for facts in platforms]
    created = [facts.created for facts in platforms if facts.created is not None]
    labels = dict(platforms[0].labels)
    for facts in platforms[1:]:
        labels = {k: v for k, v in labels.items() if facts.labels.get(k) == v}
    return ImageFacts(
        user=next((user for user in users if runs_as_root(user)), users[0]),
        env=tuple(dict.fromkeys(entry for facts in platforms for entry in facts.env)),
        healthcheck=all(facts.healthcheck for facts in platforms),
        created=min(created) if len(created) == len(platforms) else None,
        labels=labels,
        history=tuple(line for facts in platforms for line in facts.history),
        size_bytes=max(facts.size_bytes for facts in platforms),
    )


def _has_healthcheck(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    test = value.get("Test")
    return isinstance(test, list) and bool(test) and test[0] != "NONE"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    # Go writes up to nanoseconds; Python parses at most microseconds.
    text = _FRACTION.sub(lambda m: m[1][:7], value.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _string(value: Any) -> str:
    return value[:4096] if isinstance(value, str) else ""


def _strings(value: Any, limit: int) -> list[str]:
    return [item[:4096] for item in _list(value)[:limit] if isinstance(item, str)]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

"""Facts an image's config blob states about it, for the Docker security checklist (pure).

Image-spec ``config.md``: ``config.User``, ``config.Env``, ``config.Labels``,
``config.Healthcheck`` (Docker's extension), ``created``, ``history[].created_by``. An index
is judged by all its platform images (``policy.image_checks.merge_platforms``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from gatekeeper.errors import ManifestInvalid
from gatekeeper.oci.manifest import Manifest, json_object

MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_ENV = 4096
MAX_HISTORY = 4096
_FRACTION = re.compile(r"(\.\d+)")


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """An ENV entry or label that holds a secret of ``kind``; the value itself is never kept."""

    source: Literal["env", "label"]
    name: str  # the variable's name or the label's key
    kind: str  # e.g. "AWS Access Key", "Private Key", "named like a secret"

    def __str__(self) -> str:
        where = "ENV" if self.source == "env" else "label"
        return f"{where} {self.name} ({self.kind})"


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What an image's config says about itself (Docker security checklist)."""

    user: str = ""
    env: tuple[str, ...] = ()
    healthcheck: bool = False
    created: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    history: tuple[str, ...] = ()  # created_by lines, oldest first
    size_bytes: int = 0
    layers: int = 0  # filesystem layers the manifest lists
    # What policy.secret_values found in ``env`` and ``labels``, scanned once per image by
    # the gatherer (None: not scanned yet; the check then scans).
    secrets: tuple[SecretFinding, ...] | None = None


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
        layers=len(manifest.layers),
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

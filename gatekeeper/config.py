"""Frozen settings, built from command-line arguments and environment variables.

No work happens at import; :func:`gatekeeper.cli` builds a :class:`Settings` and hands it to
``create_app``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from gatekeeper.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class Limits:
    """Every bound on work, memory and time (bytes, counts, seconds), in one place.

    Each field is a ``serve`` flag (``--manifest-bytes``) and an environment variable
    (``GATEKEEPER_MANIFEST_BYTES``). ``docs/operations.md`` turns them into the most memory,
    connections, file descriptors and tasks one process can hold; the defaults keep a
    2-core / 512 MiB container healthy.
    """

    # What one manifest may cost.
    manifest_bytes: int = 4 * MiB  # distribution's own manifest limit
    manifest_refs: int = 1_000  # layers, index children or blobs per manifest (parse refuses)
    manifest_cache_bytes: int = 32 * MiB  # parsed manifests kept (estimated bytes)
    served_manifest_bytes: int = 32 * MiB  # admitted manifest bytes served from memory
    served_manifest_age: float = 60.0  # front door: how long they may be served so
    # Admission records (what admitted manifests opened): per manifest ≤ manifest_refs.
    admission_ttl: float = 3600.0  # how long an admitted manifest keeps its blobs/children open
    admission_entries: int = 100_000  # digests recorded in this process, all repositories
    admission_repository_entries: int = 10_000  # of which one repository may hold
    # The upstream registry.
    upstream_connect_timeout: float = 5.0  # TCP + TLS handshake
    upstream_header_timeout: float = 10.0  # request sent → response headers
    upstream_total_timeout: float = 30.0  # a whole manifest, evidence or other small request
    upstream_pool_timeout: float = 0.5  # waiting for a connection budget, then 503 (quickly)
    blob_idle_timeout: float = 30.0  # between two reads of a streamed body (blobs, uploads)
    credential_max_age: float = 300.0  # a credential helper's answer is asked again after
    credential_helper_timeout: float = 10.0  # docker-credential-<name> get may take this long
    upstream_probe_interval: float = 5.0  # /readyz: the upstream is asked at most this often
    upstream_connections: int = 128  # per process, all upstreams together
    stream_connections: int = 96  # of which streamed bodies may hold (rest: manifests, evidence)
    repository_connections: int = 32  # of which one repository may hold (a hanging one)
    # Upstream read buffer per stream. bench/resilience.py --scenario chunk (256 MiB blob GET,
    # 5 runs each, twice, 2026-12-04, machine shared, load ~9): CPU s/GiB median 0.68 / 0.72
    # at 256 KiB, 0.84 / 0.92 at 1 MiB, 0.76 / 0.68 at 64 KiB. With iter_any the buffer only
    # caps what one read returns; a larger one bought no CPU here and costs 2x its size per
    # stream (96 streams: +144 MiB at 1 MiB). DESIGN.md's "larger reads are cheaper" was
    # iter_chunked with small chunks, not this.
    stream_chunk_bytes: int = 256 * KiB
    # Clients.
    client_write_buffer_bytes: int = 512 * KiB  # per stream, before waiting for the client
    client_write_timeout: float = 30.0  # a client that reads nothing this long is cut off
    client_header_timeout: float = 10.0  # connection opened → first request's headers
    client_idle_timeout: float = 15.0  # keep-alive: idle (or later headers unfinished)
    max_connections: int = 1_024  # client connections; beyond, an immediate 503
    max_admissions: int = 64  # manifest requests decided concurrently
    admission_queue: int = 256  # waiting for a slot; beyond, an immediate 503
    admission_queue_timeout: float = 2.0  # longest wait for a slot before 503
    shutdown_grace: float = 20.0  # SIGTERM: requests in flight get this long (< k8s' 30 s)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"limit {f.name} must be a positive number, got {value!r}")
        if self.stream_connections > self.upstream_connections:
            raise ConfigError("stream_connections cannot exceed upstream_connections")
        if self.repository_connections > self.upstream_connections:
            raise ConfigError("repository_connections cannot exceed upstream_connections")
        if self.manifest_refs > self.admission_repository_entries:
            raise ConfigError("manifest_refs cannot exceed admission_repository_entries")
        if self.admission_repository_entries > self.admission_entries:
            raise ConfigError("admission_repository_entries cannot exceed admission_entries")


@dataclass(frozen=True, slots=True)
class Settings:
    upstream: str
    policy_paths: tuple[Path, ...]
    listen_host: str = "127.0.0.1"
    listen_port: int = 5000
    dry_run: bool = False
    decision_log: Path | None = None  # None: stdout
    limits: Limits = Limits()
    policy_poll_interval: float = 2.0  # seconds between policy file change checks
    mirror: bool = False  # pull-through mirror for docker/containerd/podman (read-only)
    namespaces: tuple[tuple[str, str], ...] = ()  # mirror routing: (registry name, base URL)
    credentials: Path | None = None  # gatekeeper's own upstream credentials (config.json)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    upstream_ca: Path | None = None  # CA bundle for upstreams with a private CA
    tls_poll_interval: float = 5.0  # seconds between certificate change checks
    verdicts: Path | None = None  # directory of Trivy JSON reports
    redis: str | None = None  # shared store for admissions and verdicts across processes
    workers: int = 1  # processes accepting on the listen port (SO_REUSEPORT)
    public_url: str | None = None  # base of Location headers; None: relative Locations
    trusted_proxies: tuple[IPNetwork, ...] = ()  # peers whose Forwarded/X-Forwarded-* count
    metrics_listen: tuple[str, int] | None = None  # None: /metrics on the main listener


DOCKER_HUB = "https://registry-1.docker.io"
DEFAULT_NAMESPACE = "docker.io"


def parse_upstreams(values: list[str], mirror: bool) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``--upstream`` values → (default upstream, namespace routes).

    A bare URL is the default upstream; ``NAME=URL`` routes the registry namespace NAME
    (containerd's ``?ns=``). In mirror mode the default is Docker Hub, as for dockerd.
    """
    default = ""
    routes: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if sep and not name.startswith(("http://", "https://")):
            if not name or "/" in name:
                raise ConfigError(f"--upstream NAME=URL needs a registry name, got {value!r}")
            routes[name.lower()] = check_upstream(url)
        elif default:
            raise ConfigError("only one default --upstream URL; route others with NAME=URL")
        else:
            default = check_upstream(value)
    if mirror:
        routes.setdefault(DEFAULT_NAMESPACE, default or DOCKER_HUB)
        default = default or routes[DEFAULT_NAMESPACE]
    if not default:
        raise ConfigError("--upstream (or GATEKEEPER_UPSTREAM) is required")
    return default, tuple(sorted(routes.items()))


def parse_listen(value: str, flag: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{flag} must be HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - explicit empty host


def check_upstream(url: str) -> str:
    """An upstream is an http(s) base URL without query or fragment; no trailing slash."""
    if not url.startswith(("http://", "https://")) or "?" in url or "#" in url:
        raise ConfigError(f"--upstream must be an http(s):// base URL, got {url!r}")
    return url.rstrip("/")


def parse_public_url(value: str) -> str:
    """``--public-url``: the http(s) origin clients reach gatekeeper at; no trailing slash.

    It becomes the base of every rewritten ``Location``, so it is held to a bare origin:
    no user info, query or fragment, and no path (clients address the API at ``/v2/`` on
    the host root).
    """
    hint = f"--public-url must be an http(s)://HOST[:PORT] origin, got {value[:200]!r}"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ConfigError(hint)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ConfigError(hint) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
        or "?" in value
        or "#" in value
    ):
        raise ConfigError(hint)
    if parts.path not in ("", "/"):
        raise ConfigError(
            f"--public-url takes no path, got {value[:200]!r}: clients address the "
            "registry API at /v2/ on the host root"
        )
    return f"{parts.scheme}://{parts.netloc}"


def parse_trusted_proxies(value: str) -> tuple[IPNetwork, ...]:
    """``--trusted-proxies``: comma-separated addresses or CIDR networks; empty: none."""
    networks: list[IPNetwork] = []
    for part in value.split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=True)
        except ValueError as exc:
            raise ConfigError(
                f"--trusted-proxies: {entry[:100]!r} is not an IP address or CIDR network ({exc})"
            ) from None
        if network.prefixlen == 0:
            # Trusting every peer is the same as trusting clients: anyone could then steer
            # upstream URLs and the logged client address again.
            raise ConfigError(
                f"--trusted-proxies: {entry!r} trusts every address; name the proxies' networks"
            )
        networks.append(network)
    return tuple(networks)

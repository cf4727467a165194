"""Every Prometheus metric gatekeeper exports, defined once (names: docs/operations.md).

Labels stay bounded: route kinds, methods, status codes, actions, outcomes, modes, reason
codes (``gatekeeper.policy.checks.CODES``), rule names (they come from the policy), cache
names. Never a repository, a reference, a digest or a client address.

With ``--workers N`` the metrics live in prometheus_client's multiprocess mode
(:mod:`gatekeeper.metrics_dir` sets it up before this module is imported); ``/metrics`` on
any worker then answers for all of them. Gauges say how they add up across workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from gatekeeper import __version__
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.model import Action

# From a cache hit (~1 ms) to a long blob stream.
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"})
NO_RULE = "(none)"  # the rule label when no rule matched (rule names never hold parentheses)

REQUESTS = Counter(
    "gatekeeper_requests",
    "Requests answered, by route kind, method and status (499: the client went away).",
    ["kind", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "gatekeeper_request_duration_seconds",
    "Time from a request's arrival to the end of its response (streams included).",
    ["kind", "method"],
    buckets=_SECONDS,
)
REQUESTS_IN_FLIGHT = Gauge(
    "gatekeeper_requests_in_flight",
    "Requests being handled now.",
    multiprocess_mode="livesum",
)
STREAMS_IN_FLIGHT = Gauge(
    "gatekeeper_upstream_streams_in_flight",
    "Streamed upstream exchanges (blobs, uploads) open now.",
    multiprocess_mode="livesum",
)
DECISIONS = Counter(
    "gatekeeper_decisions",
    "Admission decisions, by action, rule, outcome (allow, deny, would-deny) and mode.",
    ["action", "rule", "outcome", "mode"],
)
DECISION_REASONS = Counter(
    "gatekeeper_decision_reasons",
    "Reason codes of deny and would-deny decisions (one per code a decision carries).",
    ["action", "rule", "outcome", "code"],
)
UPSTREAM_SECONDS = Histogram(
    "gatekeeper_upstream_request_duration_seconds",
    "Time until the upstream's response headers arrived; purpose: relay (a client's "
    "request) or own (evidence, mirror fetches, probes).",
    ["method", "purpose"],
    buckets=_SECONDS,
)
UPSTREAM_ERRORS = Counter(
    "gatekeeper_upstream_errors",
    "Upstream exchanges that failed, by kind (unavailable, timeout, protocol, redirects).",
    ["kind"],
)
EVIDENCE_SECONDS = Histogram(
    "gatekeeper_evidence_duration_seconds",
    "Time to gather one kind of evidence for a decision (cache hits included).",
    ["kind"],
    buckets=_SECONDS,
)
VERIFICATION_SECONDS = Histogram(
    "gatekeeper_verification_duration_seconds",
    "CPU-bound verification of fetched signatures or attestations (cache misses only).",
    ["kind"],
    buckets=_SECONDS,
)
UPSTREAM_UP = Gauge(
    "gatekeeper_upstream_up",
    "1 when the upstream answered the last exchange or probe, 0 when it could not be "
    "reached; by configured upstream (default, or a mirror route's name). With --workers: "
    "the lowest of the workers' views.",
    ["upstream"],
    multiprocess_mode="livemin",
)
CACHE_HITS = Counter("gatekeeper_cache_hits", "Lookups answered by a cache.", ["cache"])
CACHE_MISSES = Counter("gatekeeper_cache_misses", "Lookups a cache could not answer.", ["cache"])
POLICY_RELOADS = Counter(
    "gatekeeper_policy_reloads", "Policy reloads, by result (ok, failed).", ["result"]
)
POLICY_INFO = Gauge(
    "gatekeeper_policy_info",
    "1 for the fingerprint of the policy in force (a worker still on an older one shows it too).",
    ["fingerprint"],
    multiprocess_mode="livemax",
)
BUILD_INFO = Gauge(
    "gatekeeper_build_info",
    "1, labelled with gatekeeper's version.",
    ["version"],
    multiprocess_mode="max",
)

CACHES = (
    "parsed_manifests",  # gatekeeper.state.manifests
    "served_manifests",  # gatekeeper.state.manifest_bytes (admitted bytes served again)
    "signatures",  # gatekeeper.gatherers.signatures (verified and refused results)
    "attestations",  # gatekeeper.gatherers.attestations ("nothing trusted found")
    "image_configs",  # gatekeeper.gatherers.image_config
    "verdicts",  # gatekeeper.scans.cache, in process
    "verdicts_shared",  # gatekeeper.scans.cache, Redis (asked after an in-process miss)
)
UPSTREAM_ERROR_KINDS = ("unavailable", "timeout", "protocol", "redirects")
EVIDENCE_KINDS = ("signatures", "scan", "image", "attestations")
VERIFICATION_KINDS = ("signatures", "attestations")


class CacheCounter:
    """The hit and miss counters of one cache, bound once (no label lookup per request)."""

    __slots__ = ("_hit", "_miss")

    def __init__(self, cache: str) -> None:
        self._hit = CACHE_HITS.labels(cache)
        self._miss = CACHE_MISSES.labels(cache)

    def hit(self) -> None:
        self._hit.inc()

    def miss(self) -> None:
        self._miss.inc()

    def count(self, found: bool) -> None:
        (self._hit if found else self._miss).inc()


_CACHE_COUNTERS = {name: CacheCounter(name) for name in CACHES}


def cache(name: str) -> CacheCounter:
    """The counters of cache ``name`` (one of :data:`CACHES`)."""
    return _CACHE_COUNTERS[name]


def _initialise() -> None:
    """Zero the series whose label values are known, so they exist before the first event."""
    BUILD_INFO.labels(__version__).set(1)
    for kind in UPSTREAM_ERROR_KINDS:
        UPSTREAM_ERRORS.labels(kind)
    for result in ("ok", "failed"):
        POLICY_RELOADS.labels(result)
    for kind in EVIDENCE_KINDS:
        EVIDENCE_SECONDS.labels(kind)
    for kind in VERIFICATION_KINDS:
        VERIFICATION_SECONDS.labels(kind)


_initialise()


def method_label(method: str) -> str:
    return method if method in _METHODS else "other"


def observe_request(kind: str, method: str, status: int, seconds: float) -> None:
    method = method_label(method)
    REQUESTS.labels(kind, method, str(status)).inc()
    REQUEST_SECONDS.labels(kind, method).observe(seconds)


def count_decision(action: Action, decision: Decision) -> None:
    """Count one decision (every decision passes through ``gatekeeper.server.enforce``)."""
    rule = decision.rule or NO_RULE
    outcome = decision.log_outcome
    DECISIONS.labels(action.value, rule, outcome, decision.mode.value).inc()
    for code in decision.codes:
        DECISION_REASONS.labels(action.value, rule, outcome, code).inc()


@contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[None]:
    """Observe the time the block took (also when it raises)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        histogram.labels(*labels).observe(time.perf_counter() - start)


@contextmanager
def upstream_exchange(method: str, own: bool, stream: bool) -> Iterator[Callable[[], None]]:
    """Around one upstream exchange: counts open streams; call the yielded function when
    the response headers are in to observe the upstream's latency."""
    start = time.perf_counter()
    histogram = UPSTREAM_SECONDS.labels(method_label(method), "own" if own else "relay")

    def answered() -> None:
        histogram.observe(time.perf_counter() - start)

    if not stream:
        yield answered
        return
    STREAMS_IN_FLIGHT.inc()
    try:
        yield answered
    finally:
        STREAMS_IN_FLIGHT.dec()


_policy_shown: str | None = None


def policy_loaded(fingerprint: str) -> None:
    """Show ``fingerprint`` as the policy in force (and the previous one as no longer)."""
    global _policy_shown
    if _policy_shown is not None and _policy_shown != fingerprint:
        POLICY_INFO.labels(_policy_shown).set(0)
    POLICY_INFO.labels(fingerprint).set(1)
    _policy_shown = fingerprint


def policy_reloaded(ok: bool, fingerprint: str) -> None:
    POLICY_RELOADS.labels("ok" if ok else "failed").inc()
    if ok:
        policy_loaded(fingerprint)


def multiprocess() -> bool:
    """True when metrics are shared through files (``serve --workers N``)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric (of every worker in multiprocess mode)."""
    if multiprocess():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def family_names(text: str) -> Iterable[str]:
    """The metric family names in an exposition (``# TYPE`` lines): for tests and checks."""
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            yield line.split()[2]

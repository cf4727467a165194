"""HarborScanner: asks a Harbor Pluggable Scanner API v1.2 adapter for verdicts it lacks.

On a miss the request path calls :meth:`HarborScanner.verdict`. The first call for a
(scanner, digest) starts one background scan (``POST /api/v1/scan``, then polling
``GET /api/v1/scan/{id}/report``, honouring ``Refresh-After``); every concurrent or later
call joins it (single flight). A caller waits at most ``wait_seconds``; after that it gets
"scan requested, no verdict yet" and the scan goes on. When the report arrives it is put in
the :class:`VerdictCache` (and so in Redis, for the other replicas).

A failed scan (the adapter refused, failed, timed out or broke the spec) is logged and
remembered for ``failure_backoff`` seconds, so a broken adapter is not asked again on every
pull. The scan request names ``registry_url``: give the upstream registry (an address the
adapter can reach), never gatekeeper itself, which would refuse the unscanned image to the
scanner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
from cachetools import TTLCache

from gatekeeper.admission.evidence import Subject
from gatekeeper.policy.evidence import ScanVerdict
from gatekeeper.redact import describe
from gatekeeper.scans import harbor_api as api
from gatekeeper.scans.cache import VerdictCache
from gatekeeper.scans.errors import ScannerError

log = logging.getLogger("gatekeeper.scans.harbor")


@dataclass(frozen=True, slots=True)
class HarborLimits:
    """Times (seconds), counts and sizes of the conversation with an adapter."""

    wait_seconds: float = 2.0  # the longest a request waits for a scan in progress
    scan_timeout: float = 600.0  # a scan not reported by then is given up (and logged)
    request_timeout: float = 10.0  # one HTTP exchange with the adapter
    default_poll: float = 1.0  # when a 302 carries no usable Refresh-After
    min_poll: float = 0.25  # Refresh-After is honoured, but never polled faster than this
    max_poll: float = 60.0  # … nor slower than this
    failure_backoff: float = 30.0  # after a failed scan, misses do not ask again this long
    max_in_flight: int = 256  # scans in progress at once; beyond it misses are not sent
    max_report_bytes: int = 64 * 1024 * 1024
    max_findings: int = 100_000


@dataclass(frozen=True, slots=True)
class ScannerAnswer:
    """What the adapter gave within the wait: a verdict, or why there is none (yet)."""

    verdict: ScanVerdict | None
    status: str  # e.g. "report received", "scan requested, no verdict yet"


_Key = tuple[str, str]  # (adapter API root, digest)


class HarborScanner:
    """Single-flight scans on Harbor scanner adapters, results put in the verdict cache."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        cache: VerdictCache,
        *,
        registry_url: str,
        registry_authorization: str | None = None,
        adapter_authorization: str | None = None,
        limits: HarborLimits = HarborLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._cache = cache
        self._registry_url = registry_url.rstrip("/")
        self._registry_authorization = registry_authorization
        self._headers = (
            {} if adapter_authorization is None else {"Authorization": adapter_authorization}
        )
        self.limits = limits
        self._clock = clock
        self._scans: dict[_Key, asyncio.Task[ScanVerdict]] = {}
        # Failures, and verdicts just received: the latter closes the window between a
        # caller's cache miss and its call here, so a finished scan is not started again.
        self._failures: TTLCache[_Key, str] = TTLCache(
            maxsize=4 * limits.max_in_flight, ttl=limits.failure_backoff, timer=clock
        )
        self._done: TTLCache[_Key, ScanVerdict] = TTLCache(
            maxsize=4 * limits.max_in_flight, ttl=60.0, timer=clock
        )

    @property
    def in_flight(self) -> int:
        """Scans started and not yet finished."""
        return len(self._scans)

    async def verdict(self, subject: Subject, scanner: str) -> ScannerAnswer:
        """The adapter's verdict on ``subject``, waiting at most ``wait_seconds`` for it."""
        key = (api.base_url(scanner), subject.digest)
        done = self._done.get(key)
        if done is not None:
            return ScannerAnswer(done, "report received")
        failure = self._failures.get(key)
        if failure is not None:
            return ScannerAnswer(None, f"scan failed: {failure}")
        task = self._scans.get(key)
        if task is None:
            if len(self._scans) >= self.limits.max_in_flight:
                return ScannerAnswer(None, f"not asked: {len(self._scans)} scans in progress")
            task = asyncio.create_task(self._scan(key, subject), name=f"scan {key[1]}")
            self._scans[key] = task
            task.add_done_callback(lambda finished: self._finished(key, finished))
        # asyncio.wait leaves the task running on timeout (wait_for would cancel it).
        await asyncio.wait({task}, timeout=self.limits.wait_seconds)
        if not task.done():
            return ScannerAnswer(None, "scan requested, no verdict yet")
        if task.cancelled():
            return ScannerAnswer(None, "scan cancelled")
        error = task.exception()
        if error is not None:
            return ScannerAnswer(None, f"scan failed: {_describe(error)}")
        return ScannerAnswer(task.result(), "report received")

    async def close(self) -> None:
        """Cancel the scans in progress (the adapter finishes them for nobody)."""
        tasks = list(self._scans.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _finished(self, key: _Key, task: asyncio.Task[ScanVerdict]) -> None:
        self._scans.pop(key, None)
        if task.cancelled():
            return
        error = task.exception()  # retrieving it also keeps asyncio from warning
        if error is None:
            self._done[key] = task.result()
            return
        self._failures[key] = _describe(error)
        log.warning("scan of %s by %s failed: %s", key[1], key[0], _describe(error))

    async def _scan(self, key: _Key, subject: Subject) -> ScanVerdict:
        root, digest = key
        try:
            async with asyncio.timeout(self.limits.scan_timeout):
                verdict = await self._request_and_poll(root, subject)
        except TimeoutError as exc:
            raise ScannerError(f"no report within {self.limits.scan_timeout:g}s") from exc
        await self._cache.put(verdict)
        log.info("scan report for %s from %s: %d findings", digest, root, len(verdict.findings))
        return verdict

    async def _request_and_poll(self, root: str, subject: Subject) -> ScanVerdict:
        """Ask for a scan of ``subject`` and poll until its report is in."""
        digest = subject.digest
        registry_url, authorization = self._registry_url, self._registry_authorization
        if subject.upstream is not None:  # the image's own registry (mirror namespaces)
            registry_url = subject.upstream.base_url
            authorization = subject.upstream.auth.basic()
        body = api.scan_request(
            registry_url,
            authorization,
            subject.upstream_name or subject.repository,
            digest,
            subject.manifest.media_type,
        )
        status, _, data = await self._call("POST", f"{root}/scan", body, api.SCAN_REQUEST_TYPE)
        if status != 202:  # spec: 202 accepted; 400/422/500/501 carry an ErrorResponse
            raise ScannerError(f"POST /scan answered {status}: {api.error_message(data)}")
        scan_id = api.scan_id(data)
        log.info(
            "scan of %s@%s requested from %s: id %s", subject.repository, digest, root, scan_id
        )
        return await self._poll(root, digest, scan_id)

    async def _poll(self, root: str, digest: str, scan_id: str) -> ScanVerdict:
        url = f"{root}/scan/{quote(scan_id, safe='')}/report"
        while True:
            status, headers, data = await self._call("GET", url, None, None)
            if status == 302:
                # Spec: "the scan report is being generated and the request should be
                # retried" after Refresh-After seconds.
                wait = api.refresh_after(headers.get("Refresh-After"))
                wait = self.limits.default_poll if wait is None else wait
                await asyncio.sleep(min(max(wait, self.limits.min_poll), self.limits.max_poll))
                continue
            if status != 200:
                raise ScannerError(
                    f"GET /scan/{scan_id[:60]}/report answered {status}: {api.error_message(data)}"
                )
            media_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if media_type not in api.REPORT_TYPES:
                raise ScannerError(f"the scan report came as {media_type!r}, not {api.REPORT_TYPE}")
            return api.parse_report(
                data,
                digest=digest,
                source=f"scanner {root.removesuffix(api.API_PREFIX)} (scan {scan_id[:60]})",
                received=datetime.now(UTC),
                max_bytes=self.limits.max_report_bytes,
                max_findings=self.limits.max_findings,
            )

    async def _call(
        self, method: str, url: str, body: bytes | None, content_type: str | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One exchange: status, headers, body (bounded); transport errors → ScannerError."""
        accept = api.REPORT_TYPE if body is None else api.SCAN_RESPONSE_TYPE
        headers = {**self._headers, "Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        timeout = aiohttp.ClientTimeout(total=self.limits.request_timeout)
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                data = await _read(response, self.limits.max_report_bytes)
                return response.status, response.headers, data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ScannerError(f"{method} {url} failed: {_describe(exc)}") from exc


async def _read(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, refused past ``limit`` bytes (checked before it is all in memory)."""
    if (response.content_length or 0) > limit:
        raise ScannerError(f"{response.url} answered {response.content_length} bytes, over {limit}")
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ScannerError(f"{response.url} answered more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(error: BaseException) -> str:
    if isinstance(error, ScannerError):
        return error.message
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {describe(error)}"

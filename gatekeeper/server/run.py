"""Run the server: uvloop, one shared upstream session, SIGHUP reload, bounded stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from gatekeeper import metrics, metrics_dir
from gatekeeper.admission.deps import Deps
from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.admission.wiring import build_deps
from gatekeeper.config import Settings
from gatekeeper.errors import ConfigError
from gatekeeper.policy.loader import load_policy
from gatekeeper.server import logs
from gatekeeper.server.app import create_app
from gatekeeper.server.connections import ConnectionGuard
from gatekeeper.server.errors import INFLIGHT
from gatekeeper.server.observe import metrics_app
from gatekeeper.server.tls import ServerTLS
from gatekeeper.server.workers import supervise

log = logging.getLogger("gatekeeper")

# After the grace period, handlers still running are cancelled; this is how long aiohttp
# then waits for them to unwind before closing their connections.
_CANCEL_WAIT = 1.0


def run(settings: Settings, *, access_log: bool = False) -> int:
    """Serve until SIGINT/SIGTERM, with ``settings.workers`` processes."""
    logs.install()
    policies = PolicyStore(settings.policy_paths, load_policy, dry_run=settings.dry_run)
    tls = (
        ServerTLS(settings.tls_cert, settings.tls_key)
        if settings.tls_cert and settings.tls_key
        else None
    )
    if settings.workers == 1:
        _run_one(settings, policies, tls, access_log)
        return 0
    if not settings.redis:
        raise ConfigError(
            "--workers > 1 needs --redis: a client's manifest and blob requests may reach "
            "different workers, which must share admission records"
        )
    return supervise(
        settings.workers,
        lambda: _run_one(settings, policies, tls, access_log),
        on_exit=metrics_dir.worker_exited,
    )


def _run_one(
    settings: Settings, policies: PolicyStore, tls: ServerTLS | None, access_log: bool
) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(settings, policies, tls, access_log))


@dataclass(frozen=True, slots=True)
class Serving:
    """A running server: where it listens and what it holds (tests count these)."""

    url: str
    app: web.Application
    deps: Deps
    guard: ConnectionGuard


@asynccontextmanager
async def serving(
    settings: Settings,
    policies: PolicyStore,
    tls: ServerTLS | None = None,
    access_log: bool = False,
) -> AsyncIterator[Serving]:
    """Listen on ``settings.listen_host:listen_port`` (0: any free port) until the block
    ends, then stop within ``shutdown_grace`` plus a moment."""
    limits = settings.limits
    async with AsyncExitStack() as stack:
        deps = await build_deps(settings, policies, stack)
        app = create_app(deps)
        runner = web.AppRunner(
            app,
            access_log=logging.getLogger("gatekeeper.access") if access_log else None,
            handle_signals=False,
            # A client that goes away cancels its handler: the upstream request ends with it.
            handler_cancellation=True,
            keepalive_timeout=limits.client_idle_timeout,
            shutdown_timeout=_CANCEL_WAIT,
        )
        await runner.setup()
        guard = ConnectionGuard(limits.max_connections, limits.client_header_timeout)
        site = GuardedSite(
            runner,
            guard,
            settings.listen_host,
            settings.listen_port,
            backlog=1024,
            ssl_context=tls.context if tls else None,
            reuse_port=settings.workers > 1,
        )
        await _listen(site.start(), settings.listen_host, settings.listen_port, "--listen")
        if settings.metrics_listen is not None:
            await stack.enter_async_context(
                _metrics_listener(*settings.metrics_listen, reuse_port=settings.workers > 1)
            )
        scheme = "https" if tls else "http"
        url = f"{scheme}://{settings.listen_host}:{site.port}"
        try:
            yield Serving(url, app, deps, guard)
        finally:
            await _stop(runner, site, app, limits.shutdown_grace)


@asynccontextmanager
async def _metrics_listener(host: str, port: int, *, reuse_port: bool) -> AsyncIterator[None]:
    """``--metrics-listen``: ``/metrics`` alone, plain HTTP, on its own address."""
    runner = web.AppRunner(metrics_app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port)
        await _listen(site.start(), host, port, "--metrics-listen")
        yield
    finally:
        await runner.cleanup()


async def _listen(start: Awaitable[None], host: str, port: int, flag: str) -> None:
    """Start listening; a port in use or an address the host lacks is a one-line error."""
    try:
        await start
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)  # uvloop sets no strerror
        raise ConfigError(f"{flag} {host}:{port}: cannot listen there: {reason}") from None


async def _stop(
    runner: web.AppRunner, site: web.TCPSite, app: web.Application, grace: float
) -> None:
    """Stop accepting, give requests in flight ``grace`` seconds, then cancel the rest
    (their streams are aborted, never framed as complete) and close everything."""
    inflight = app[INFLIGHT]
    log.info("shutting down: finishing %d requests in flight", inflight.count)
    await site.stop()
    try:
        async with asyncio.timeout(grace):
            await inflight.wait_drained()
    except TimeoutError:
        log.warning("%d requests still in flight after %gs: aborting them", inflight.count, grace)
        # Cancel them here: aiohttp's own shutdown would first wait _CANCEL_WAIT more for
        # them to finish, then cancel and wait again (grace + 2 s measured, not + 1 s).
        inflight.cancel_all()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CANCEL_WAIT):
                await inflight.wait_drained()
    await runner.cleanup()


class GuardedSite(web.TCPSite):
    """``TCPSite`` whose connections pass through a :class:`ConnectionGuard`."""

    def __init__(
        self, runner: web.AppRunner, guard: ConnectionGuard, *args: object, **kwargs: object
    ) -> None:
        super().__init__(runner, *args, **kwargs)  # type: ignore[arg-type]
        self._guard = guard

    async def start(self) -> None:
        # TCPSite.start, with the protocol factory wrapped.
        self._runner._reg_site(self)
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard.wrap(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]


async def _serve(
    settings: Settings, policies: PolicyStore, tls: ServerTLS | None, access_log: bool
) -> None:
    async with serving(settings, policies, tls, access_log) as server:
        metrics.policy_loaded(policies.current.fingerprint)
        watchers = [asyncio.create_task(policies.watch(settings.policy_poll_interval))]
        for upstream in {
            id(u): u for u in (server.deps.upstream, *server.deps.namespaces.values())
        }.values():
            watchers.append(asyncio.create_task(upstream.health.refresh(upstream.probe)))
        if tls:
            watchers.append(asyncio.create_task(tls.watch(settings.tls_poll_interval)))
        log.info(
            "gatekeeper listening on %s → %s (%s%s, policy %s)",
            server.url,
            settings.upstream,
            "dry-run" if policies.current.forced_dry_run else "enforce",
            ", mirror" if settings.mirror else "",
            policies.current.fingerprint[:12],
        )
        await _until_stopped(policies)
        for watcher in watchers:
            watcher.cancel()


async def _until_stopped(policies: PolicyStore) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload(policies)))
    await stop.wait()


async def _reload(policies: PolicyStore) -> None:
    await asyncio.to_thread(policies.reload)

"""Run the server: uvloop, one shared upstream session, SIGHUP reload, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack

from aiohttp import web

from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.admission.wiring import build_deps
from gatekeeper.config import Settings
from gatekeeper.errors import ConfigError
from gatekeeper.policy.loader import load_policy
from gatekeeper.server import logs
from gatekeeper.server.app import create_app
from gatekeeper.server.errors import INFLIGHT
from gatekeeper.server.tls import ServerTLS
from gatekeeper.server.workers import supervise

log = logging.getLogger("gatekeeper")


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
    return supervise(settings.workers, lambda: _run_one(settings, policies, tls, access_log))


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


async def _serve(
    settings: Settings, policies: PolicyStore, tls: ServerTLS | None, access_log: bool
) -> None:
    async with AsyncExitStack() as stack:
        deps = await build_deps(settings, policies, stack)
        app = create_app(deps)
        runner = web.AppRunner(
            app,
            access_log=logging.getLogger("gatekeeper.access") if access_log else None,
            handle_signals=False,
        )
        await runner.setup()
        site = web.TCPSite(
            runner,
            settings.listen_host,
            settings.listen_port,
            backlog=1024,
            ssl_context=tls.context if tls else None,
            reuse_port=settings.workers > 1,
        )
        await site.start()
        watchers = [asyncio.create_task(policies.watch(settings.policy_poll_interval))]
        if tls:
            watchers.append(asyncio.create_task(tls.watch(settings.tls_poll_interval)))
        log.info(
            "gatekeeper listening on %s://%s:%d → %s (%s%s, policy %s)",
            "https" if tls else "http",
            settings.listen_host,
            settings.listen_port,
            settings.upstream,
            "dry-run" if policies.current.forced_dry_run else "enforce",
            ", mirror" if settings.mirror else "",
            policies.current.fingerprint[:12],
        )
        await _until_stopped(policies)
        inflight = app[INFLIGHT]
        log.info("shutting down: finishing %d requests in flight", inflight.count)
        for watcher in watchers:
            watcher.cancel()
        # Stop accepting, let every request in flight finish (up to the grace period), and
        # only then close connections and the upstream session.
        await site.stop()
        try:
            async with asyncio.timeout(settings.limits.shutdown_grace):
                await inflight.wait_drained()
        except TimeoutError:
            log.warning(
                "%d requests still in flight after %gs: closing them",
                inflight.count,
                settings.limits.shutdown_grace,
            )
        await runner.cleanup()


async def _until_stopped(policies: PolicyStore) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload(policies)))
    await stop.wait()


async def _reload(policies: PolicyStore) -> None:
    await asyncio.to_thread(policies.reload)

"""Run the server: uvloop, one shared upstream session, SIGHUP reload, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from gatekeeper.config import Settings
from gatekeeper.gatherers.assemble import default_gatherers
from gatekeeper.policy.loader import load_policy
from gatekeeper.server.app import create_app
from gatekeeper.server.decision_log import DecisionLog
from gatekeeper.server.deps import Deps
from gatekeeper.server.policy_store import PolicyStore
from gatekeeper.state.admissions import MemoryAdmissionStore
from gatekeeper.server.tls import ServerTLS
from gatekeeper.upstream.pool import build_upstreams

log = logging.getLogger("gatekeeper")


def run(settings: Settings, *, access_log: bool = False) -> None:
    """Serve until SIGINT/SIGTERM."""
    policies = PolicyStore(settings.policy_paths, load_policy, dry_run=settings.dry_run)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(settings, policies, access_log))


async def _serve(settings: Settings, policies: PolicyStore, access_log: bool) -> None:
    limits = settings.limits
    tls = (
        ServerTLS(settings.tls_cert, settings.tls_key)
        if settings.tls_cert and settings.tls_key
        else None
    )
    upstream, namespaces = build_upstreams(settings)
    deps = Deps(
        settings=settings,
        upstream=upstream,
        policies=policies,
        admissions=MemoryAdmissionStore(limits.admission_ttl, limits.admission_entries),
        decisions=DecisionLog(settings.decision_log),
        gatherers=default_gatherers(upstream),
        namespaces=namespaces,
    )
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
    )
    await site.start()
    watchers = [asyncio.create_task(tls.watch(settings.tls_poll_interval))] if tls else []
    mode = "dry-run" if policies.current.forced_dry_run else "enforce"
    log.info(
        "gatekeeper listening on %s://%s:%d → %s (%s%s, policy %s)",
        "https" if tls else "http",
        settings.listen_host,
        settings.listen_port,
        settings.upstream,
        mode,
        ", mirror" if settings.mirror else "",
        policies.current.fingerprint[:12],
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload(policies)))
    await stop.wait()
    log.info("shutting down: finishing requests in flight")
    for watcher in watchers:
        watcher.cancel()
    await runner.cleanup()


async def _reload(policies: PolicyStore) -> None:
    await asyncio.to_thread(policies.reload)

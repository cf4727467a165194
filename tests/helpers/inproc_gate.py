"""gatekeeper served in the test's own event loop, and the resources it holds, counted.

Fault tests need to count what gatekeeper holds (tasks, file descriptors, upstream
connections, memory) before and after a fault; in-process, all of it is visible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gatekeeper.admission.policy_store import PolicyStore
from gatekeeper.config import Limits, Settings
from gatekeeper.policy.loader import load_policy
from gatekeeper.server.run import Serving, serving

FAST = Limits(
    upstream_connect_timeout=1.0,
    upstream_header_timeout=1.0,
    upstream_total_timeout=2.0,
    upstream_pool_timeout=1.0,
    blob_idle_timeout=1.0,
    client_write_timeout=1.0,
    client_header_timeout=0.5,
    client_idle_timeout=0.5,
    max_connections=64,
    shutdown_grace=1.0,
    stream_chunk_bytes=64 * 1024,
    client_write_buffer_bytes=64 * 1024,
)


@asynccontextmanager
async def gate(
    upstream: str, policy: Path, workdir: Path, limits: Limits = FAST, **settings: Any
) -> AsyncIterator[Serving]:
    config = Settings(
        upstream=upstream,
        policy_paths=(policy,),
        listen_host="127.0.0.1",
        listen_port=0,
        decision_log=workdir / "decisions.log",
        limits=limits,
        **settings,
    )
    policies = PolicyStore(config.policy_paths, load_policy, dry_run=False)
    async with serving(config, policies) as server:
        yield server


@dataclass(frozen=True)
class Counts:
    tasks: int
    fds: int
    upstream_connections: int
    rss: int


def counts(upstream_port: int) -> Counts:
    me = psutil.Process()
    upstream = sum(
        1
        for c in me.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == upstream_port and c.status == psutil.CONN_ESTABLISHED
    )
    return Counts(len(asyncio.all_tasks()), me.num_fds(), upstream, me.memory_info().rss)


async def back_to(baseline: Counts, upstream_port: int, within: float = 4.0) -> Counts:
    """Wait until tasks, FDs and upstream connections are back at ``baseline``; the last
    counts either way (the caller asserts, so a failure shows the numbers)."""
    deadline = time.monotonic() + within
    while True:
        now = counts(upstream_port)
        settled = (
            now.tasks <= baseline.tasks
            and now.fds <= baseline.fds
            and now.upstream_connections <= baseline.upstream_connections
        )
        if settled or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.05)

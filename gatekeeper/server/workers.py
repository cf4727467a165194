"""``serve --workers N``: N processes accepting on one port (SO_REUSEPORT), supervised.

The parent loads and checks everything once, forks the workers, forwards SIGTERM/SIGINT
(graceful stop) and SIGHUP (policy reload) to them, and exits when they have all stopped.
If a worker dies on its own, the others are stopped and the parent exits non-zero, so the
orchestrator (systemd, Kubernetes) restarts the whole set rather than running short-handed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable

from gatekeeper.errors import GatekeeperError

log = logging.getLogger("gatekeeper.workers")


def supervise(
    workers: int, serve_one: Callable[[], None], on_exit: Callable[[int], None] | None = None
) -> int:
    """Run ``serve_one`` in ``workers`` forked processes; ``on_exit(pid)`` once each is reaped."""
    children: dict[int, int] = {}
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                serve_one()
            except GatekeeperError as exc:  # e.g. the port is taken: one line, exit 2
                # One write(2) of one line: under PIPE_BUF it cannot interleave with the
                # same line from a sibling worker (print() may write it in two pieces).
                os.write(2, f"gatekeeper: {exc.message}\n".encode(errors="replace"))
                code = 2
            except BaseException:  # a worker must never fall back into the parent's loop
                log.exception("worker %d crashed", index)
                code = 1
            os._exit(code)
        children[pid] = index
    log.info("started %d workers: %s", workers, ", ".join(map(str, children)))
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    status = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        index = children.pop(pid)
        if on_exit is not None:
            on_exit(pid)
        said = os.waitstatus_to_exitcode(code) == 2  # it reported its error in one line
        if not stopping:
            status = 2 if said else 1
            if not said:
                log.error(
                    "worker %d (pid %d) exited unexpectedly (status %d): stopping all",
                    index,
                    pid,
                    code,
                )
            stopping = True
            forward(signal.SIGTERM, None)
    return status

"""prometheus_client's multiprocess mode for ``serve --workers N``, owned by gatekeeper.

Each worker writes its metrics to memory-mapped files in one directory; ``/metrics`` on any
worker reads them all. gatekeeper makes that directory itself (private, mode 0700, in the
system temp dir), names it in ``PROMETHEUS_MULTIPROC_DIR`` before prometheus_client is
imported (it picks its storage at import), and removes it at exit. A worker that exits has
its live gauges (requests in flight) dropped; its counters keep counting in the totals.

Deliberately free of prometheus_client imports: it must run before them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def multiprocess_metrics() -> Iterator[str]:
    """A fresh private metrics directory, named in the environment for the block."""
    if "prometheus_client" in sys.modules:
        # Too late: metrics were already made in single-process storage.
        raise RuntimeError("multiprocess metrics must be set up before prometheus_client loads")
    path = tempfile.mkdtemp(prefix="gatekeeper-metrics-")
    previous = os.environ.get(ENV)
    os.environ[ENV] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous
        shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """Forget a worker's live gauges (call in the supervisor once the worker is reaped)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]

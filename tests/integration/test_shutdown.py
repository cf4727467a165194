"""SIGTERM stops gatekeeper gracefully: requests in flight finish, new ones are not taken."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import requests

from tests.helpers.processes import Process, start_gatekeeper
from tests.helpers.registry_push import push_blob

SIZE = 64 * 1024 * 1024


def test_a_download_in_flight_completes_after_sigterm(
    tmp_path: Path, registry: Process, permissive_policy: Path
) -> None:
    data = os.urandom(SIZE)
    digest = push_blob(registry.url, "shutdown/app", data)
    gate = start_gatekeeper(tmp_path, registry.url, permissive_policy)
    try:
        received = hashlib.sha256()
        size = 0
        with requests.get(
            f"{gate.url}/v2/shutdown/app/blobs/{digest}", stream=True, timeout=60
        ) as response:
            chunks = response.iter_content(1024 * 1024)
            first = next(chunks)
            received.update(first)
            size += len(first)
            gate.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            for chunk in chunks:  # the rest still arrives, slowly read
                received.update(chunk)
                size += len(chunk)
        assert size == SIZE
        assert "sha256:" + received.hexdigest() == digest
        gate.proc.wait(30)
        assert gate.proc.returncode == 0
        assert "shutting down" in gate.log()
        assert "Traceback" not in gate.log()
    finally:
        gate.stop()

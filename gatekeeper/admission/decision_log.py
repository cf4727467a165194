"""One JSON line per manifest decision and per refusal of any request kind.

To stdout or a file. ``codes`` are the stable reason codes of a refusal
(``gatekeeper.policy.checks.CODES``). ``schema_version`` changes only when a field is removed
or changes meaning (adding a field keeps it): consumers check it before reading a line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from gatekeeper.errors import ConfigError
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import AdmissionRequest

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Client:
    """Who asked: for the log only, never for decisions."""

    request_id: str
    address: str
    user_agent: str


class DecisionLog:
    """Appends decision lines through a buffer flushed once per event-loop turn.

    One write syscall per decision cost measurable throughput under load; flushing with
    ``call_soon`` coalesces the lines of every request finished in the same loop iteration
    into one write, yet under light load a line reaches the file at once.
    """

    def __init__(self, path: Path | None) -> None:
        try:
            self._stream: IO[str] = (
                path.open("a", encoding="utf-8") if path is not None else sys.stdout
            )
        except OSError as exc:
            raise ConfigError(f"cannot open --decision-log {path}: {exc.strerror}") from None
        self._owned = path is not None
        self._flush_scheduled = False
        self._dirty = False

    def write(
        self,
        request: AdmissionRequest,
        decision: Decision,
        client: Client,
        duration_ms: float,
    ) -> None:
        entry = {
            "schema_version": SCHEMA_VERSION,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": client.request_id,
            "action": request.action.value,
            "repository": request.repository,
            "reference": request.reference,
            "digest": request.digest,
            "rule": decision.rule,
            "outcome": decision.log_outcome,
            "reasons": list(decision.reasons),
            **({"warnings": list(decision.warnings)} if decision.warnings else {}),
            "codes": list(decision.codes),
            "mode": decision.mode.value,
            "duration_ms": round(duration_ms, 3),
            "client": client.address,
            "user_agent": client.user_agent,
        }
        self._stream.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._dirty = True
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a plain call): write through
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write buffered lines out (the server calls this before each response starts)."""
        self._flush_scheduled = False
        if self._dirty:
            self._dirty = False
            self._stream.flush()

    def close(self) -> None:
        self.flush()
        if self._owned:
            self._stream.close()

"""One JSON line per admission decision, to stdout or a file."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from gatekeeper.policy.decision import Decision
from gatekeeper.policy.evidence import AdmissionRequest


@dataclass(frozen=True, slots=True)
class Client:
    """Who asked: for the log only, never for decisions."""

    request_id: str
    address: str
    user_agent: str


class DecisionLog:
    def __init__(self, path: Path | None) -> None:
        self._stream: IO[str] = (
            path.open("a", encoding="utf-8", buffering=1) if path is not None else sys.stdout
        )
        self._owned = path is not None

    def write(
        self,
        request: AdmissionRequest,
        decision: Decision,
        client: Client,
        duration_ms: float,
    ) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": client.request_id,
            "action": request.action.value,
            "repository": request.repository,
            "reference": request.reference,
            "digest": request.digest,
            "rule": decision.rule,
            "outcome": decision.log_outcome,
            "reasons": list(decision.reasons),
            "mode": decision.mode.value,
            "duration_ms": round(duration_ms, 3),
            "client": client.address,
            "user_agent": client.user_agent,
        }
        self._stream.write(json.dumps(entry, separators=(",", ":")) + "\n")
        if not self._owned:
            self._stream.flush()

    def close(self) -> None:
        if self._owned:
            self._stream.close()

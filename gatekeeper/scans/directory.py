"""A directory of Trivy JSON reports, watched: manifest digest → newest verdict.

A background task rescans every ``interval`` seconds (default 1 s, so a new, changed or
removed report takes effect within ~2 s, well inside the 5 s the issue promises). Only files
whose (mtime, ctime, size, inode) stamp changed are read and parsed, in a worker thread. A
malformed report is logged once per version of the file and skipped; the rest of the
directory keeps working. :meth:`VerdictDirectory.lookup` reads an in-memory dict: O(1), no I/O.

Only ``*.json`` files directly in the directory count; names starting with ``.`` are ignored,
so writers can write ``.tmp`` files and rename them into place (a half-written file is
otherwise logged as malformed once, then read again when it changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gatekeeper.policy.checks import as_utc
from gatekeeper.policy.evidence import ScanVerdict
from gatekeeper.scans.errors import TrivyReportError
from gatekeeper.scans.trivy import TrivyLimits, parse_trivy_report

log = logging.getLogger("gatekeeper.scans.directory")

_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DirectoryLimits:
    """How often the directory is rescanned, and how much of it is read."""

    interval: float = 1.0  # seconds between rescans
    max_files: int = 10_000  # reports read; the rest (by name) are ignored and logged
    report: TrivyLimits = field(default_factory=TrivyLimits)


@dataclass(frozen=True, slots=True)
class _Stamp:
    mtime_ns: int
    ctime_ns: int  # changes on chmod too, so a report made readable is read again
    size: int
    inode: int


@dataclass(frozen=True, slots=True)
class _FileState:
    stamp: _Stamp
    verdicts: tuple[ScanVerdict, ...]  # empty when the report was refused


class VerdictDirectory:
    """Verdicts from the Trivy reports in one directory, kept current by a background task."""

    def __init__(self, path: Path, limits: DirectoryLimits = DirectoryLimits()) -> None:
        self.path = path
        self.limits = limits
        self._files: dict[str, _FileState] = {}
        self._index: dict[str, ScanVerdict] = {}
        self._problem: str | None = None  # directory-level problem last logged
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def lookup(self, digest: str) -> ScanVerdict | None:
        """The newest verdict naming ``digest``; no I/O."""
        return self._index.get(digest)

    def __len__(self) -> int:
        """How many digests have a verdict."""
        return len(self._index)

    async def refresh(self) -> None:
        """Rescan the directory now (the background task calls this every ``interval``)."""
        async with self._lock:
            files, problem = await asyncio.to_thread(_rescan, self.path, self._files, self.limits)
            if problem != self._problem:
                if problem is not None:
                    log.warning("verdict directory %s: %s", self.path, problem)
                self._problem = problem
            if files is not None:
                self._files = files
                self._index = _build_index(files)
                log.info(
                    "verdict directory %s: %d reports, verdicts for %d digests",
                    self.path,
                    len(files),
                    len(self._index),
                )

    async def start(self) -> None:
        """Read the directory once, then keep watching it in the background."""
        await self.refresh()
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name=f"watch {self.path}")

    async def close(self) -> None:
        """Stop watching (the verdicts already read stay available)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> VerdictDirectory:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.limits.interval)
            try:
                await self.refresh()
            except Exception:  # the watcher must outlive any one bad scan
                log.exception("verdict directory %s: rescan failed", self.path)


def _rescan(
    path: Path, previous: Mapping[str, _FileState], limits: DirectoryLimits
) -> tuple[dict[str, _FileState] | None, str | None]:
    """New file states (None when nothing changed) and a directory-level problem."""
    try:
        stamps = _list(path)
    except OSError as exc:
        # Not fatal: the directory may be mounted later. Its reports count as removed.
        return ({} if previous else None), f"cannot be read: {exc.strerror or exc}"
    problem = None
    if len(stamps) > limits.max_files:
        problem = f"holds {len(stamps)} reports; only the first {limits.max_files} are read"
        stamps = dict(sorted(stamps.items())[: limits.max_files])
    files: dict[str, _FileState] = {}
    changed = stamps.keys() != previous.keys()
    for name, stamp in stamps.items():
        state = previous.get(name)
        if state is None or state.stamp != stamp:
            state = _FileState(stamp, _read(path / name, stamp, limits.report))
            changed = True
        files[name] = state
    return (files if changed else None), problem


def _list(path: Path) -> dict[str, _Stamp]:
    stamps: dict[str, _Stamp] = {}
    with os.scandir(path) as entries:
        for entry in entries:
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            try:
                if not entry.is_file():
                    continue
                st = entry.stat()
            except OSError:
                continue  # removed between listing and stat: it counts as removed
            stamps[entry.name] = _Stamp(st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
    return stamps


def _read(file: Path, stamp: _Stamp, limits: TrivyLimits) -> tuple[ScanVerdict, ...]:
    """The verdicts of one report; a refused report is logged here, once per version."""
    try:
        if stamp.size > limits.max_bytes:
            raise TrivyReportError(f"the report is larger than {limits.max_bytes} bytes")
        with file.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
        mtime = datetime.fromtimestamp(stamp.mtime_ns / 1e9, UTC)
        report = parse_trivy_report(data, file_name=file.name, mtime=mtime, limits=limits)
    except OSError as exc:
        log.warning("trivy report %s skipped: cannot be read: %s", file, exc.strerror or exc)
        return ()
    except TrivyReportError as exc:
        log.warning("trivy report %s skipped: %s", file, exc.message)
        return ()
    log.debug(
        "trivy report %s: %d findings for %s", file, len(report.findings), ", ".join(report.digests)
    )
    return report.verdicts(f"trivy report {file}")


def _build_index(files: Mapping[str, _FileState]) -> dict[str, ScanVerdict]:
    """Digest → verdict; when reports disagree, the newest ``created`` wins.

    A verdict without a creation time counts as oldest; equal times are broken by file
    name (the later name wins) so every replica reading the same directory agrees.
    """
    index: dict[str, ScanVerdict] = {}
    for name in sorted(files):
        for verdict in files[name].verdicts:
            current = index.get(verdict.digest)
            if current is None or _age_key(verdict) >= _age_key(current):
                index[verdict.digest] = verdict
    return index


def _age_key(verdict: ScanVerdict) -> datetime:
    return _OLDEST if verdict.created is None else as_utc(verdict.created)

"""VerdictDirectory: reports added, changed and removed take effect; bad ones are skipped."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gatekeeper.scans.directory import DirectoryLimits, VerdictDirectory
from gatekeeper.scans.trivy import TrivyLimits
from tests.unit.scans.conftest import ALPINE, DEBIAN, MANY, digest_for, retarget

FAST = DirectoryLimits(interval=0.05)


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> float:
    """Seconds until ``condition()`` held; fails after ``within`` seconds."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            pytest.fail(f"condition did not hold within {within}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def write(path: Path, data: bytes) -> None:
    """Write as a careful publisher does: a hidden temporary file, renamed into place."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def source(directory: VerdictDirectory, digest: str) -> str:
    verdict = directory.lookup(digest)
    return "" if verdict is None else verdict.source


def severities(directory: VerdictDirectory, digest: str) -> set[str]:
    verdict = directory.lookup(digest)
    return set() if verdict is None else {f.severity for f in verdict.findings}


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def test_reports_present_at_start_are_read_before_start_returns(tmp_path: Path) -> None:
    one, two = digest_for("one"), digest_for("two")
    write(tmp_path / "a.json", retarget(ALPINE, one))
    write(tmp_path / f"sha256-{two.split(':')[1]}.json", DEBIAN.read_bytes())
    async with VerdictDirectory(tmp_path, FAST) as directory:
        alpine, debian = directory.lookup(one), directory.lookup(two)
        assert alpine is not None and len(alpine.findings) == 4
        assert alpine.source == f"trivy report {tmp_path / 'a.json'}"
        assert debian is not None and {f.severity for f in debian.findings} == {"CRITICAL", "LOW"}
        assert directory.lookup(digest_for("other")) is None
        assert len(directory) == 2


async def test_a_report_added_while_running_counts_within_five_seconds(tmp_path: Path) -> None:
    digest = digest_for("added")
    async with VerdictDirectory(tmp_path) as directory:  # the default interval
        assert directory.lookup(digest) is None
        write(tmp_path / "new.json", retarget(DEBIAN, digest))
        took = await eventually(lambda: directory.lookup(digest) is not None, within=5.0)
    assert took < 5.0


async def test_changed_and_removed_reports_take_effect(tmp_path: Path) -> None:
    digest = digest_for("changing")
    path = tmp_path / "app.json"
    write(path, retarget(ALPINE, digest))
    async with VerdictDirectory(tmp_path, FAST) as directory:
        assert severities(directory, digest) == {"MEDIUM"}
        write(path, retarget(DEBIAN, digest))
        await eventually(lambda: severities(directory, digest) == {"CRITICAL", "LOW"})
        path.unlink()
        await eventually(lambda: directory.lookup(digest) is None)


async def test_a_malformed_report_is_logged_once_skipped_and_read_again_when_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "gatekeeper.scans.directory")
    good, bad_digest = digest_for("good"), digest_for("bad")
    write(tmp_path / "good.json", retarget(ALPINE, good))
    write(tmp_path / "bad.json", b'{"SchemaVersion": 2, "Results": [')
    async with VerdictDirectory(tmp_path, FAST) as directory:
        await asyncio.sleep(0.4)  # several rescans
        assert directory.lookup(good) is not None
        assert len(messages(caplog, "bad.json skipped: the report is not valid JSON")) == 1
        assert len(messages(caplog, "good.json: 4 findings")) == 1  # unchanged: parsed once
        write(tmp_path / "bad.json", retarget(MANY, bad_digest))
        await eventually(lambda: directory.lookup(bad_digest) is not None)
    assert len(messages(caplog, "bad.json skipped")) == 1


async def test_a_report_naming_no_digest_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "debian.json", DEBIAN.read_bytes())
    async with VerdictDirectory(tmp_path, FAST) as directory:
        assert len(directory) == 0
    assert messages(caplog, "debian.json skipped: the report names no manifest digest")


async def test_when_reports_disagree_the_newest_created_wins(tmp_path: Path) -> None:
    digest = digest_for("shared")
    write(tmp_path / "a-new.json", retarget(DEBIAN, digest, CreatedAt="2024-03-01T00:00:00Z"))
    write(tmp_path / "b-old.json", retarget(ALPINE, digest, CreatedAt="2023-03-01T00:00:00Z"))
    no_date = tmp_path / "c-undated.json"
    write(no_date, retarget(MANY, digest))  # no CreatedAt: its mtime counts
    os.utime(no_date, (1_600_000_000, 1_600_000_000))  # 2020
    async with VerdictDirectory(tmp_path, FAST) as directory:
        assert source(directory, digest).endswith("a-new.json")
        os.utime(no_date)  # touched now: newer than both
        await eventually(lambda: source(directory, digest).endswith("c-undated.json"))
        no_date.unlink()
        await eventually(lambda: source(directory, digest).endswith("a-new.json"))


async def test_hidden_and_non_json_files_are_ignored(tmp_path: Path) -> None:
    digest = digest_for("hidden")
    write(tmp_path / "report.txt", retarget(ALPINE, digest))
    (tmp_path / ".partial.json").write_bytes(retarget(ALPINE, digest))
    (tmp_path / "sub.json").mkdir()
    async with VerdictDirectory(tmp_path, FAST) as directory:
        assert len(directory) == 0


async def test_a_missing_directory_is_not_fatal_and_is_read_once_it_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, digest = tmp_path / "later", digest_for("later")
    async with VerdictDirectory(path, FAST) as directory:
        assert len(directory) == 0
        await asyncio.sleep(0.2)
        assert len(messages(caplog, "cannot be read")) == 1  # once, not per rescan
        path.mkdir()
        write(path / "a.json", retarget(ALPINE, digest))
        await eventually(lambda: directory.lookup(digest) is not None)


async def test_limits_on_files_and_bytes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    digests = [digest_for(f"n{i}") for i in range(3)]
    for index, digest in enumerate(digests):
        write(tmp_path / f"{index}.json", retarget(ALPINE, digest))
    limits = DirectoryLimits(interval=0.05, max_files=2)
    async with VerdictDirectory(tmp_path, limits) as directory:
        assert [directory.lookup(d) is not None for d in digests] == [True, True, False]
    assert messages(caplog, "holds 3 reports; only the first 2 are read")
    small = DirectoryLimits(report=TrivyLimits(max_bytes=100))
    async with VerdictDirectory(tmp_path, small) as directory:
        assert len(directory) == 0
    assert messages(caplog, "larger than 100 bytes")


async def test_close_stops_watching(tmp_path: Path) -> None:
    digest = digest_for("closed")
    directory = VerdictDirectory(tmp_path, FAST)
    await directory.start()
    await directory.close()
    write(tmp_path / "a.json", retarget(ALPINE, digest))
    await asyncio.sleep(0.2)
    assert directory.lookup(digest) is None
    await directory.refresh()  # an explicit refresh still works
    assert directory.lookup(digest) is not None

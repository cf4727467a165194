"""Credentials as they are now: helper answers kept for a bounded time, asked again after a
refusal, failures not retried per request, the file re-read when it changes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gatekeeper.errors import Unavailable
from gatekeeper.upstream.credentials import Credential, CredentialStore, HelperRef
from gatekeeper.upstream.live_credentials import LiveCredentials

URL = "https://reg.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Helper:
    """A counting runner: answers ``user-<n>`` on its n-th run."""

    def __init__(self, fail: bool = False) -> None:
        self.runs: list[HelperRef] = []
        self.fail = fail

    async def __call__(self, ref: HelperRef) -> Credential | None:
        self.runs.append(ref)
        await asyncio.sleep(0)
        if self.fail:
            raise Unavailable("docker-credential-test get for reg.example: exit 1")
        return Credential(f"user-{len(self.runs)}", "pw")


def live(helper: Helper, clock: Clock, **kwargs: float) -> LiveCredentials:
    store = CredentialStore({}, {"reg.example": "test"})
    return LiveCredentials(store, runner=helper, clock=clock, max_age=60.0, **kwargs)


async def test_answers_are_kept_for_max_age_and_shared() -> None:
    helper, clock = Helper(), Clock()
    creds = live(helper, clock)
    got = await asyncio.gather(*(creds.get(URL) for _ in range(20)))
    assert {c.username for c in got if c} == {"user-1"}
    clock.now += 59
    assert (await creds.get(URL)) == Credential("user-1", "pw")
    clock.now += 1
    assert (await creds.get(URL)) == Credential("user-2", "pw")
    assert helper.runs == [HelperRef("test", "reg.example")] * 2


async def test_a_refusal_asks_again_but_not_in_a_storm() -> None:
    helper, clock = Helper(), Clock()
    creds = live(helper, clock)
    bound = creds.for_url(URL)
    await bound.get()
    assert bound.expire() is False  # just asked: a refusal now is not the credential's age
    clock.now += 5
    assert bound.expire() is True
    assert bound.expire() is True  # nothing cached: the next get asks anyway
    assert (await bound.get()) == Credential("user-2", "pw")
    assert len(helper.runs) == 2


async def test_a_failing_helper_is_not_run_per_request() -> None:
    helper, clock = Helper(fail=True), Clock()
    creds = live(helper, clock)
    for _ in range(10):
        with pytest.raises(Unavailable, match="exit 1"):
            await creds.get(URL)
    assert len(helper.runs) == 1
    clock.now += 5
    with pytest.raises(Unavailable):
        await creds.get(URL)
    assert len(helper.runs) == 2


async def test_written_credentials_need_no_helper() -> None:
    creds = LiveCredentials(CredentialStore({"reg.example": Credential("a", "b")}))
    assert await creds.get(URL) == Credential("a", "b")
    assert creds.for_url(URL).current() == Credential("a", "b")
    assert creds.expire(URL) is False


def write(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc))


async def test_the_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write(path, {"auths": {"reg.example": {"username": "old", "password": "pw"}}})
    clock = Clock()
    creds = LiveCredentials.load(path, poll=2.0, max_age=60.0, helper_timeout=1.0, clock=clock)
    assert (await creds.get(URL)) == Credential("old", "pw")
    write(path, {"auths": {"reg.example": {"username": "new", "password": "pw2"}}})
    assert (await creds.get(URL)) == Credential("old", "pw")  # not polled yet
    clock.now += 2
    assert (await creds.get(URL)) == Credential("new", "pw2")
    path.write_text("{broken")
    clock.now += 2
    assert (await creds.get(URL)) == Credential("new", "pw2")  # kept; logged
    assert creds.reloads == 1

"""VerdictCache: L1 bounds, a real Redis shared by two caches, and Redis going away."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from gatekeeper.errors import ConfigError
from gatekeeper.policy.evidence import Finding, ScanVerdict
from gatekeeper.scans.cache import KEY_PREFIX, CacheLimits, VerdictCache
from gatekeeper.scans.codec import VerdictDecodeError, decode_verdict, encode_verdict
from tests.helpers.redis_server import RedisServer
from tests.unit.scans.conftest import digest_for


def verdict(label: str, *findings: Finding, created: datetime | None = None) -> ScanVerdict:
    return ScanVerdict(digest_for(label), f"test {label}", created, findings)


CRITICAL = Finding("CVE-2019-12900", "libbz2", "1.0.6-r6", "1.0.6-r7", "CRITICAL")
UNFIXED = Finding("CVE-2019-18276", "bash", "5.0-4", None, "LOW")
CREATED = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "value",
    [
        verdict("a"),
        verdict("b", CRITICAL, UNFIXED, created=CREATED),
        verdict("c", Finding("GHSA-ü", "pkg ✓", "", None, "UNKNOWN"), created=CREATED),
    ],
)
def test_codec_round_trips(value: ScanVerdict) -> None:
    assert decode_verdict(encode_verdict(value), 1 << 20) == value


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"format": 2}',
        b'{"format": 1, "digest": "x", "source": "s"}',
        b'{"format": 1, "digest": "sha256:' + b"a" * 64 + b'", "source": "s", "findings": [[1]]}',
        b'{"format": 1, "digest": "sha256:' + b"a" * 64 + b'", "source": 5}',
    ],
)
def test_codec_refuses_what_it_did_not_write(data: bytes) -> None:
    with pytest.raises(VerdictDecodeError):
        decode_verdict(data, 1 << 20)


async def test_l1_alone_keeps_verdicts_for_the_ttl_and_within_the_size_bound() -> None:
    clock = FakeClock()
    cache = VerdictCache(limits=CacheLimits(ttl=60, max_entries=2), clock=clock)
    a, b, c = verdict("a"), verdict("b"), verdict("c")
    await cache.put(a)
    assert await cache.get(a.digest) == a
    clock.now += 61
    assert await cache.get(a.digest) is None  # expired
    for value in (a, b, c):
        await cache.put(value)
    assert [await cache.get(v.digest) is not None for v in (a, b, c)] == [False, True, True]
    cache.forget(c.digest)
    assert await cache.get(c.digest) is None


async def test_two_caches_sharing_one_redis_see_each_others_verdicts(
    redis_server: RedisServer,
) -> None:
    first, second = VerdictCache(redis_server.url), VerdictCache(redis_server.url)
    try:
        value = verdict("shared", CRITICAL, UNFIXED, created=CREATED)
        assert await second.get(value.digest) is None
        await first.put(value)
        assert await second.get(value.digest) == value
        redis_server.stop()
        assert await second.get(value.digest) == value  # the Redis hit was kept in L1
        redis_server.start()
        back = verdict("back", created=CREATED)
        await second.put(back)
        assert await first.get(back.digest) == back
    finally:
        await first.close()
        await second.close()


async def test_entries_carry_the_prefix_and_the_redis_ttl(redis_server: RedisServer) -> None:
    cache = VerdictCache(redis_server.url, CacheLimits(redis_ttl=120))
    client = Redis.from_url(redis_server.url)
    try:
        value = verdict("ttl")
        await cache.put(value)
        ttl_ms = await client.pttl(KEY_PREFIX + value.digest)
        assert 110_000 < ttl_ms <= 120_000
        assert decode_verdict(await client.get(KEY_PREFIX + value.digest), 1 << 20) == value
    finally:
        await client.aclose()
        await cache.close()


async def test_a_corrupt_or_mismatched_redis_entry_is_ignored(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = VerdictCache(redis_server.url)
    client = Redis.from_url(redis_server.url)
    try:
        garbage, other = digest_for("garbage"), digest_for("other")
        await client.set(KEY_PREFIX + garbage, b"{not json")
        await client.set(KEY_PREFIX + other, encode_verdict(verdict("someone else")))
        assert await cache.get(garbage) is None
        assert await cache.get(other) is None
        assert any("ignored" in r.getMessage() for r in caplog.records)
    finally:
        await client.aclose()
        await cache.close()


async def test_redis_down_degrades_to_l1_without_raising_and_comes_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "gatekeeper.scans.cache")
    clock = FakeClock()
    limits = CacheLimits(redis_retry_after=5.0)
    cache = VerdictCache(redis_server.url, limits, clock=clock)
    peer = VerdictCache(redis_server.url)
    try:
        before = verdict("before")
        await cache.put(before)
        redis_server.stop()
        during = verdict("during")
        started = time.monotonic()
        await cache.put(during)  # must not raise
        assert await cache.get(during.digest) == during  # L1 still works
        assert await cache.get(digest_for("unknown")) is None  # and misses stay misses
        assert time.monotonic() - started < 2 * limits.redis_timeout + 0.5
        clock.now += limits.redis_retry_after + 1  # past the back-off, still down
        assert await cache.get(digest_for("unknown")) is None
        unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(unavailable) == 1  # one line per outage, not per request
        redis_server.start()  # same port, empty (no persistence)
        late = verdict("late")
        await cache.put(late)  # still inside the back-off: L1 only
        assert await peer.get(late.digest) is None
        clock.now += limits.redis_retry_after + 1
        await cache.put(late)
        assert await peer.get(late.digest) == late
        assert any("is back" in r.getMessage() for r in caplog.records)
    finally:
        await cache.close()
        await peer.close()


async def test_a_cache_whose_redis_never_answered_works_from_l1(tmp_path: object) -> None:
    from tests.helpers.processes import free_port

    cache = VerdictCache(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    value = verdict("nobody")
    await cache.put(value)
    assert await cache.get(value.digest) == value
    assert await cache.get(digest_for("missing")) is None
    await cache.close()


def test_a_bad_redis_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="not a Redis URL"):
        VerdictCache("http://user:secret@example.com")

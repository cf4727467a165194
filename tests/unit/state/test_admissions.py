"""Admission records: per repository and fingerprint, bounded per repository and in total,
evicted a whole admission at a time, largest repository first (issue 10, finding 5)."""

from __future__ import annotations

import pytest

from gatekeeper.state.admissions import MemoryAdmissionStore


def digests(prefix: str, n: int) -> list[str]:
    return [f"sha256:{prefix}{i}" for i in range(n)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_records_are_per_repository_kind_and_fingerprint() -> None:
    store = MemoryAdmissionStore(ttl=60, max_entries=10)
    await store.open_blobs("a", ["sha256:1"], "fp1")
    assert await store.blob_opened("a", "sha256:1", "fp1")
    assert not await store.blob_opened("b", "sha256:1", "fp1")
    assert not await store.blob_opened("a", "sha256:1", "fp2")
    assert await store.parent_of("a", "sha256:1", "fp1") is None  # a blob is not a child
    await store.open_children("a", "sha256:index", ["sha256:1"], "fp1")
    assert await store.parent_of("a", "sha256:1", "fp1") == "sha256:index"
    assert await store.blob_opened("a", "sha256:1", "fp1")


async def test_records_expire() -> None:
    clock = Clock()
    store = MemoryAdmissionStore(ttl=60, max_entries=10, clock=clock)
    await store.open_blobs("a", ["sha256:1"], "fp")
    clock.now += 59
    assert await store.blob_opened("a", "sha256:1", "fp")
    clock.now += 2
    assert not await store.blob_opened("a", "sha256:1", "fp")
    await store.open_blobs("a", ["sha256:2"], "fp")  # expired records are dropped on write
    assert store.entries == 1


async def test_a_repository_evicts_only_its_own_oldest_admissions_whole() -> None:
    store = MemoryAdmissionStore(ttl=60, max_entries=100, repository_entries=10)
    await store.open_blobs("victim", digests("v", 3), "fp")
    await store.open_blobs("flood", digests("old", 6), "fp")
    await store.open_blobs("flood", digests("new", 6), "fp")
    assert store.entries_of("flood") == 6  # the older admission left whole, not in part
    assert [await store.blob_opened("flood", d, "fp") for d in digests("old", 6)] == [False] * 6
    assert all([await store.blob_opened("flood", d, "fp") for d in digests("new", 6)])
    assert all([await store.blob_opened("victim", d, "fp") for d in digests("v", 3)])


async def test_one_admission_counts_once_however_often_it_is_written() -> None:
    store = MemoryAdmissionStore(ttl=60, max_entries=100, repository_entries=10)
    for _ in range(50):
        await store.open_blobs("a", [*digests("x", 4), "sha256:x0"], "fp")
    assert store.entries == 4


async def test_a_digest_rewritten_by_a_later_admission_moves_with_it() -> None:
    store = MemoryAdmissionStore(ttl=60, max_entries=100, repository_entries=4)
    await store.open_blobs("a", ["sha256:shared", "sha256:old"], "fp")
    await store.open_blobs("a", ["sha256:shared", "sha256:new"], "fp")
    await store.open_blobs("a", ["sha256:third", "sha256:fourth"], "fp")  # 5 > 4: oldest goes
    assert not await store.blob_opened("a", "sha256:old", "fp")
    assert await store.blob_opened("a", "sha256:shared", "fp")
    assert store.entries == 4


async def test_many_flooded_repositories_cannot_evict_a_small_one() -> None:
    store = MemoryAdmissionStore(ttl=60, max_entries=100, repository_entries=20)
    await store.open_blobs("victim", digests("v", 5), "fp")
    for r in range(40):  # 40 repositories x 20 records = 8x the total
        await store.open_blobs(f"flood/{r}", digests(f"f{r}-", 20), "fp")
    assert store.entries <= 100
    assert all([await store.blob_opened("victim", d, "fp") for d in digests("v", 5)])
    # the latest flood admission is kept; older ones shared what was left
    assert all([await store.blob_opened("flood/39", d, "fp") for d in digests("f39-", 20)])


@pytest.mark.parametrize("size", [1, 7, 30])
async def test_total_stays_bounded_whatever_the_shape(size: int) -> None:
    store = MemoryAdmissionStore(ttl=60, max_entries=50, repository_entries=30)
    for r in range(200):
        await store.open_blobs(f"r{r % 13}", digests(f"{r}-", size), "fp")
        assert store.entries <= 50
    await store.open_blobs("last", digests("l", size), "fp")
    assert all([await store.blob_opened("last", d, "fp") for d in digests("l", size)])


async def test_a_fresh_admission_is_not_rewritten_but_still_counts() -> None:
    now = [0.0]
    store = MemoryAdmissionStore(100, 1000, 100, clock=lambda: now[0])
    await store.open_blobs("r", ["sha256:a", "sha256:b"], "fp")
    now[0] = 10.0  # within a quarter TTL: the same admission again changes nothing
    await store.open_blobs("r", ["sha256:a", "sha256:b"], "fp")
    now[0] = 99.0  # the first write's expiry is still in force
    assert await store.blob_opened("r", "sha256:b", "fp")
    now[0] = 101.0
    assert not await store.blob_opened("r", "sha256:b", "fp")
    now[0] = 200.0  # written again after a quarter TTL: extended
    await store.open_blobs("r", ["sha256:a", "sha256:b"], "fp")
    now[0] = 260.0
    await store.open_blobs("r", ["sha256:a", "sha256:b"], "fp")
    now[0] = 350.0
    assert await store.blob_opened("r", "sha256:a", "fp")

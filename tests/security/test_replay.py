"""Replay guards: an id is accepted once while remembered, in memory and in Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from frontdesk.security.replay import (
    KEY_PREFIX,
    MemoryReplayGuard,
    RedisReplayGuard,
    ReplayGuard,
    make_replay_guard,
)

MINUTE = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def namespace() -> str:
    return f"test-{secrets.token_hex(4)}"


async def exactly_one_of_50(guard: ReplayGuard) -> None:
    space = namespace()
    results = await asyncio.gather(*(guard.first_use(space, "msg_1", MINUTE) for _ in range(50)))
    assert results.count(True) == 1


async def test_memory_accepts_once_per_namespace() -> None:
    guard = MemoryReplayGuard()
    assert await guard.first_use("a", "msg_1", MINUTE) is True
    assert await guard.first_use("a", "msg_1", MINUTE) is False
    assert await guard.first_use("b", "msg_1", MINUTE) is True
    assert await guard.first_use("a", "msg_2", MINUTE) is True


async def test_memory_forgets_after_the_ttl() -> None:
    clock = Clock()
    guard = MemoryReplayGuard(clock=clock)
    assert await guard.first_use("a", "msg_1", MINUTE)
    clock.now += 59.9
    assert not await guard.first_use("a", "msg_1", MINUTE)
    clock.now += 0.1
    assert await guard.first_use("a", "msg_1", MINUTE)
    assert not await guard.first_use("a", "msg_1", MINUTE)


async def test_memory_drops_expired_entries_as_it_goes() -> None:
    clock = Clock()
    guard = MemoryReplayGuard(clock=clock)
    for index in range(1000):
        await guard.first_use("a", f"msg_{index}", MINUTE)
    assert len(guard) == 1000
    clock.now += 61
    await guard.first_use("a", "fresh", MINUTE)
    assert len(guard) == 1


async def test_memory_is_bounded_and_forgets_the_oldest_first() -> None:
    guard = MemoryReplayGuard(max_entries=3, clock=Clock())
    for key in ("k1", "k2", "k3", "k4"):
        assert await guard.first_use("a", key, MINUTE)
    assert len(guard) == 3
    assert not await guard.first_use("a", "k4", MINUTE)
    assert not await guard.first_use("a", "k2", MINUTE)
    assert await guard.first_use("a", "k1", MINUTE)  # the oldest was forgotten


async def test_memory_with_mixed_ttls_still_expires_each_entry() -> None:
    clock = Clock()
    guard = MemoryReplayGuard(clock=clock)
    await guard.first_use("a", "long", timedelta(hours=1))
    await guard.first_use("a", "short", timedelta(seconds=1))
    clock.now += 2
    assert await guard.first_use("a", "short", timedelta(seconds=1))
    assert not await guard.first_use("a", "long", timedelta(hours=1))


async def test_memory_concurrent_first_use_accepts_exactly_one() -> None:
    await exactly_one_of_50(MemoryReplayGuard())


@pytest.mark.parametrize(
    ("space", "key", "ttl"),
    [
        ("", "k", MINUTE),
        ("a:b", "k", MINUTE),
        ("a", "", MINUTE),
        ("a", "k" * 1025, MINUTE),
        ("a", "k", timedelta(0)),
        ("a", "k", -MINUTE),
    ],
)
async def test_bad_arguments_are_refused(space: str, key: str, ttl: timedelta) -> None:
    for guard in (MemoryReplayGuard(), RedisReplayGuard(Redis())):  # Redis is never reached
        with pytest.raises(ValueError, match="replay"):
            await guard.first_use(space, key, ttl)


def test_memory_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryReplayGuard(max_entries=0)


def test_the_guard_follows_the_instance() -> None:
    assert isinstance(make_replay_guard(None), MemoryReplayGuard)
    assert isinstance(make_replay_guard(Redis()), RedisReplayGuard)


async def test_redis_accepts_once_per_namespace(redis: Redis) -> None:
    guard = RedisReplayGuard(redis)
    space, other = namespace(), namespace()
    assert await guard.first_use(space, "msg:1", MINUTE) is True
    assert await guard.first_use(space, "msg:1", MINUTE) is False
    assert await guard.first_use(other, "msg:1", MINUTE) is True
    key = f"{KEY_PREFIX}{space}:msg:1"
    assert await redis.exists(key) == 1
    assert 0 < await redis.pttl(key) <= 60_000


async def test_redis_forgets_after_the_ttl(redis: Redis) -> None:
    guard = RedisReplayGuard(redis)
    space = namespace()
    ttl = timedelta(milliseconds=100)
    assert await guard.first_use(space, "msg_1", ttl)
    assert not await guard.first_use(space, "msg_1", ttl)
    await asyncio.sleep(0.25)
    assert await guard.first_use(space, "msg_1", ttl)


async def test_redis_rounds_a_sub_millisecond_ttl_up(redis: Redis) -> None:
    guard = RedisReplayGuard(redis)
    space = namespace()
    assert await guard.first_use(space, "msg_1", timedelta(microseconds=10))
    assert await redis.pttl(f"{KEY_PREFIX}{space}:msg_1") in (-2, 0, 1)


async def test_redis_concurrent_first_use_accepts_exactly_one(redis: Redis) -> None:
    await exactly_one_of_50(RedisReplayGuard(redis))

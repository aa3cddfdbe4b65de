"""Replay protection: a key (a signed message's id) is accepted once while it is remembered.

``RedisReplayGuard`` is shared by every process of an instance; ``MemoryReplayGuard`` serves the
embedded instance (one process). Both answer ``first_use`` atomically, so of many concurrent
deliveries of one id exactly one is accepted.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from redis.asyncio import Redis

KEY_PREFIX = "frontdesk:replay:"
MAX_KEY_LENGTH = 1024
_NO_TIME = timedelta(0)


class ReplayGuard(Protocol):
    async def first_use(self, namespace: str, key: str, ttl: timedelta) -> bool:
        """True the first time ``key`` is seen in ``namespace`` within ``ttl``, else False."""
        ...


def _check(namespace: str, key: str, ttl: timedelta) -> None:
    # ':' separates the namespace from the key in Redis; a key may contain it, a namespace not.
    if not namespace or ":" in namespace:
        raise ValueError("a replay namespace is non-empty and has no ':'")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"a replay key is 1 to {MAX_KEY_LENGTH} characters")
    if ttl <= _NO_TIME:
        raise ValueError("a replay ttl is positive")


class MemoryReplayGuard:
    """Remembers keys in this process, each until its ttl ends, at most ``max_entries`` at once.

    Entries sit in insertion order, so expired ones are dropped from the front as calls arrive
    (O(1) amortised). When full, the oldest entry is forgotten first: it is the nearest to its
    end, and the alternative, refusing new messages, would stop all traffic under load.
    """

    def __init__(
        self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._expiry: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    async def first_use(self, namespace: str, key: str, ttl: timedelta) -> bool:
        """True the first time ``key`` is seen in ``namespace`` within ``ttl``, else False."""
        _check(namespace, key, ttl)
        # No await below: on one event loop the check and the claim cannot interleave.
        now = self._clock()
        entries = self._expiry
        while entries and next(iter(entries.values())) <= now:
            entries.popitem(last=False)
        entry = (namespace, key)
        expires = entries.get(entry)
        if expires is not None:
            if expires > now:
                return False
            del entries[entry]
        elif len(entries) >= self._max:
            entries.popitem(last=False)
        entries[entry] = now + ttl.total_seconds()
        return True


class RedisReplayGuard:
    """Remembers keys in Redis (``SET … NX PX``: one atomic round trip), across processes."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def first_use(self, namespace: str, key: str, ttl: timedelta) -> bool:
        """True the first time ``key`` is seen in ``namespace`` within ``ttl``, else False."""
        _check(namespace, key, ttl)
        milliseconds = max(1, math.ceil(ttl / timedelta(milliseconds=1)))
        created = await self._redis.set(
            f"{KEY_PREFIX}{namespace}:{key}", b"1", nx=True, px=milliseconds
        )
        return bool(created)


def make_replay_guard(redis: Redis | None) -> ReplayGuard:
    """The guard for an instance: Redis when it has one, else this process's memory."""
    return RedisReplayGuard(redis) if redis is not None else MemoryReplayGuard()

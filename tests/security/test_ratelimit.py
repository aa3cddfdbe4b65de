"""Rate limits: exact under concurrency, shared across instances, honest headers."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

import pydantic
import pytest
from redis.asyncio import Redis

from frontdesk.security import ratelimit
from frontdesk.security.ratelimit import (
    PLANS,
    REDIS_PREFIX,
    WINDOW,
    Decision,
    LimitKey,
    LocalStorage,
    PlanLimits,
    RateLimiter,
    plan_limits,
)

NOW = 1_750_000_000.0


def frozen(at: float = NOW) -> Callable[[], float]:
    return lambda: at


FROZEN = frozen()


def ident() -> str:
    return uuid.uuid4().hex


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., RateLimiter]]:
    """Builds limiters of one kind; Redis ones share one Redis, like two app instances."""
    made: list[RateLimiter] = []
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    def build(clock: Callable[[], float] = FROZEN) -> RateLimiter:
        limiter = RateLimiter.redis(url, clock=clock) if url else RateLimiter.memory(clock=clock)
        made.append(limiter)
        return limiter

    yield build
    for limiter in made:
        await limiter.aclose()


async def test_a_parallel_burst_lets_exactly_the_limit_through(
    make: Callable[..., RateLimiter],
) -> None:
    limiter = make()
    key = LimitKey("visitor", f"{ident()}:v", 10)
    decisions = await asyncio.gather(*(limiter.hit(key) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10
    refused = [d for d in decisions if not d.allowed]
    assert all(d.scope == "visitor" and d.retry_after and d.retry_after > 0 for d in refused)
    assert all(d.remaining == 0 and d.limit == 10 for d in refused)


async def test_two_instances_share_one_quota(redis_url: str) -> None:
    first = RateLimiter.redis(redis_url, clock=frozen())
    second = RateLimiter.redis(redis_url, clock=frozen())
    try:
        key = LimitKey("tenant", ident(), 10)
        decisions = await asyncio.gather(
            *(first.hit(key) for _ in range(25)), *(second.hit(key) for _ in range(25))
        )
        assert sum(d.allowed for d in decisions) == 10
        assert not (await first.hit(key)).allowed
        assert not (await second.hit(key)).allowed
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_keys_are_namespaced(redis_url: str) -> None:
    limiter = RateLimiter.redis(redis_url)
    redis = Redis.from_url(redis_url)
    try:
        identity = ident()
        await limiter.hit(LimitKey("ip", identity, 5))
        keys = [key async for key in redis.scan_iter(match=f"*{identity}*")]
        assert len(keys) == 1
        assert keys[0].decode().startswith(f"{REDIS_PREFIX}:")
        assert 0 < await redis.ttl(keys[0]) <= 60
    finally:
        await redis.aclose()
        await limiter.aclose()


async def test_identities_are_independent(make: Callable[..., RateLimiter]) -> None:
    limiter = make()
    tenant = ident()
    one, two = LimitKey("visitor", f"{tenant}:a", 2), LimitKey("visitor", f"{tenant}:b", 2)
    assert [(await limiter.hit(one)).allowed for _ in range(3)] == [True, True, False]
    assert (await limiter.hit(two)).allowed
    assert (await limiter.hit(LimitKey("ip", f"{tenant}:a", 2))).allowed  # other scope


async def test_a_key_family_keeps_its_quota_across_keys(make: Callable[..., RateLimiter]) -> None:
    """A rotated key (new key id, same family) must not get a fresh quota: keys are stable."""
    tenant, family = ident(), ident()
    limiter = make()
    for _ in range(3):
        assert (await limiter.hit(LimitKey("key", f"{tenant}:{family}", 3))).allowed
    decision = await limiter.hit(LimitKey("key", f"{tenant}:{family}", 3))
    assert not decision.allowed
    assert decision.scope == "key"


async def test_headers_and_reset(make: Callable[..., RateLimiter]) -> None:
    limiter = make()
    key = LimitKey("tenant", ident(), 3)
    first = await limiter.hit(key)
    assert first.allowed
    assert first.scope is None
    assert first.retry_after is None
    assert 1 <= first.reset_seconds <= 60
    assert first.headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": str(first.reset_seconds),
    }
    await limiter.hit(key)
    await limiter.hit(key)
    refused = await limiter.hit(key)
    assert refused.headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(first.reset_seconds),
        "Retry-After": str(first.reset_seconds),
    }
    assert (b"retry-after", str(first.reset_seconds).encode()) in refused.raw_headers()


async def test_the_window_frees_at_its_reset(make: Callable[..., RateLimiter]) -> None:
    now = [NOW]
    limiter = make(clock=lambda: now[0])
    key = LimitKey("visitor", ident(), 2)
    await limiter.hit(key)
    await limiter.hit(key)
    refused = await limiter.hit(key)
    assert not refused.allowed
    assert refused.retry_after is not None
    now[0] += refused.retry_after - 1
    assert not (await limiter.hit(key)).allowed
    now[0] += 1
    again = await limiter.hit(key)
    assert again.allowed
    assert again.remaining == 1
    assert again.reset_seconds == 60


async def test_windows_are_staggered_by_identity(make: Callable[..., RateLimiter]) -> None:
    limiter = make()
    resets = {(await limiter.hit(LimitKey("ip", ident(), 5))).reset_seconds for _ in range(40)}
    assert len(resets) > 5


async def test_first_refusal_stops_and_later_keys_are_not_charged(
    make: Callable[..., RateLimiter],
) -> None:
    limiter = make()
    tenant = ident()
    visitor = LimitKey("visitor", f"{tenant}:v", 2)
    whole = LimitKey("tenant", tenant, 100)
    for _ in range(5):
        await limiter.hit(visitor, whole)
    decision = await limiter.hit(whole)
    assert decision.remaining == 100 - 3  # 2 allowed + this one; the 3 refusals cost nothing


async def test_headers_describe_the_most_constraining_key(
    make: Callable[..., RateLimiter],
) -> None:
    limiter = make()
    tenant = ident()
    wide, narrow = LimitKey("tenant", tenant, 100), LimitKey("visitor", f"{tenant}:v", 5)
    decision = await limiter.hit(wide, narrow)
    assert decision.allowed
    assert (decision.limit, decision.remaining) == (5, 4)
    assert (await limiter.hit(LimitKey("ip", ident(), 1), wide)).allowed
    refused = await limiter.hit(LimitKey("ip", ident(), 1), wide, cost=2)
    assert not refused.allowed
    assert refused.scope == "ip"


async def test_cost(make: Callable[..., RateLimiter]) -> None:
    limiter = make()
    key = LimitKey("key", ident(), 10)
    assert (await limiter.hit(key, cost=7)).remaining == 3
    assert not (await limiter.hit(key, cost=4)).allowed
    with pytest.raises(ValueError, match="cost"):
        await limiter.hit(key, cost=0)
    with pytest.raises(ValueError, match="at least one key"):
        await limiter.hit()


async def test_unreachable_redis_falls_back_to_memory() -> None:
    limiter = RateLimiter.redis("redis://127.0.0.1:1/0", timeout=0.2)
    try:
        key = LimitKey("ip", ident(), 2)
        decisions = [await limiter.hit(key) for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        assert all(d.degraded for d in decisions)
        started = time.monotonic()
        await limiter.hit(LimitKey("ip", ident(), 2))
        assert time.monotonic() - started < 0.1  # no new attempt while Redis is marked down
    finally:
        await limiter.aclose()


async def test_local_storage_expires_what_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimpleNamespace(time=lambda: NOW, monotonic=time.monotonic)
    monkeypatch.setattr(ratelimit, "time", clock)
    storage = LocalStorage()
    assert await storage.incr("a", 10) == 1
    assert await storage.incr("a", 10, 2) == 3
    assert await storage.incr("b", 30) == 1
    assert await storage.get("a") == 3
    assert await storage.get_expiry("a") == NOW + 10
    clock.time = lambda: NOW + 11
    assert await storage.get("a") == 0
    assert await storage.incr("c", 5) == 1  # sweeps
    assert "a" not in storage._counts
    assert await storage.get("b") == 1
    assert await storage.incr("a", 10) == 1
    await storage.clear("b")
    assert await storage.get("b") == 0
    assert await storage.reset() == 2
    assert await storage.check()


def test_limit_keys_are_validated() -> None:
    with pytest.raises(ValueError, match="scope"):
        LimitKey("planet", "x", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="per_minute"):
        LimitKey("ip", "x", 0)


def test_plans() -> None:
    assert set(PLANS) == {"free", "starter", "pro", "enterprise"}
    order = [PLANS[name] for name in ("free", "starter", "pro", "enterprise")]
    for smaller, larger in itertools.pairwise(order):
        assert larger.tenant > smaller.tenant
        assert larger.key > smaller.key
        assert larger.visitor > smaller.visitor
    for plan in order:
        assert plan.visitor < plan.key < plan.tenant
    assert plan_limits("free") is PLANS["free"]
    custom = plan_limits("pro", {"visitor": 500})
    assert custom.visitor == 500
    assert custom.tenant == PLANS["pro"].tenant
    with pytest.raises(pydantic.ValidationError):
        plan_limits("free", {"visitor": 0})
    with pytest.raises(pydantic.ValidationError):
        plan_limits("free", {"visitors": 5})
    with pytest.raises(pydantic.ValidationError):
        PLANS["free"].tenant = 1  # type: ignore[misc]
    assert isinstance(PLANS["free"], PlanLimits)


def test_decision_headers_without_refusal() -> None:
    decision = Decision(True, None, 10, 4, 30, None)
    assert "Retry-After" not in decision.headers()


def test_counter_names_are_the_limits_librarys() -> None:
    """Counters keep the names ``limits`` gives them, so instances of either version agree."""
    from limits import RateLimitItemPerMinute

    key = LimitKey("visitor", "tenant-id:ip:203.0.113.0", 120)
    expected = RateLimitItemPerMinute(120, namespace="fw").key_for(key.scope, key.identity, 123)
    assert ratelimit._name(key, 123) == expected


def _counting_calls(limiter: RateLimiter) -> list[int]:
    """Counts the limiter's round trips to Redis (its script's calls)."""
    calls: list[int] = []
    script = limiter._script
    assert script is not None

    async def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return await script(*args, **kwargs)  # type: ignore[arg-type]

    limiter._script = counted  # type: ignore[assignment]
    return calls


async def test_one_redis_round_trip_counts_every_key(redis_url: str) -> None:
    """The keys of a hit are counted together by one script: a refused key stops the count, and
    the keys after it are not charged (as when each key was its own round trip)."""
    limiter = RateLimiter.redis(redis_url, clock=frozen())
    redis = Redis.from_url(redis_url)
    calls = _counting_calls(limiter)
    try:
        narrow, wide = LimitKey("visitor", ident(), 2), LimitKey("tenant", ident(), 100)
        decisions = [await limiter.hit(narrow, wide) for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        assert decisions[2].scope == "visitor"
        assert len(calls) == 3
        wide_keys = [key async for key in redis.scan_iter(match=f"*{wide.identity}*")]
        assert len(wide_keys) == 1
        assert await redis.get(wide_keys[0]) == b"2"
        assert 0 < await redis.ttl(wide_keys[0]) <= 60
    finally:
        await redis.aclose()
        await limiter.aclose()


async def _counter(redis_url: str, key: LimitKey) -> int:
    async with Redis.from_url(redis_url) as redis:
        names = [name async for name in redis.scan_iter(match=f"*{key.identity}*")]
        assert len(names) == 1
        return int(await redis.get(names[0]))


def test_only_large_quotas_are_leased() -> None:
    assert LimitKey("tenant", "t", 999).lease == 0
    assert LimitKey("tenant", "t", 1_000).lease == 10  # 1 % of the limit…
    assert LimitKey("tenant", "t", 6_000).lease == 60
    assert LimitKey("tenant", "t", 30_000).lease == 100  # …and never more than 100
    assert LimitKey("visitor", "t:v", PLANS["enterprise"].visitor).lease == 0


async def test_a_small_quota_is_counted_in_redis_on_every_hit(redis_url: str) -> None:
    limiter = RateLimiter.redis(redis_url, clock=frozen())
    calls = _counting_calls(limiter)
    try:
        key = LimitKey("visitor", ident(), 999)
        for _ in range(5):
            assert (await limiter.hit(key)).allowed
        assert len(calls) == 5
        assert await _counter(redis_url, key) == 5
    finally:
        await limiter.aclose()


async def test_a_large_quota_is_leased_in_blocks_and_never_exceeded(redis_url: str) -> None:
    limiter = RateLimiter.redis(redis_url, clock=frozen())
    calls = _counting_calls(limiter)
    try:
        key = LimitKey("tenant", ident(), 1_000)
        remaining = [(await limiter.hit(key)).remaining for _ in range(1_000)]
        assert remaining == list(range(999, -1, -1))  # one instance: exact
        assert len(calls) == 91  # each round trip: the hit and a block of 10 more
        assert await _counter(redis_url, key) == 1_000
        refused = await limiter.hit(key)
        assert not refused.allowed
        assert refused.scope == "tenant"
        assert refused.remaining == 0
    finally:
        await limiter.aclose()


async def test_instances_leasing_one_quota_never_admit_more_than_it(redis_url: str) -> None:
    """Each instance holds at most one block unspent: together they can fall short of the
    quota by that much at the end of a window, never exceed it. A key rotated meanwhile (a new
    key of the same family) and an instance started afresh count against the same quota."""
    # A burst of 1,200 calls at once takes a while on a busy machine: a generous timeout.
    instances = [RateLimiter.redis(redis_url, timeout=5, clock=frozen()) for _ in range(3)]
    family = ident()

    async def hit(limiter: RateLimiter) -> bool:
        return (await limiter.hit(LimitKey("key", family, 1_000))).allowed

    try:
        allowed = await asyncio.gather(*(hit(limiter) for limiter in instances * 400))
        assert 1_000 - 3 * 10 <= sum(allowed) <= 1_000
        assert await _counter(redis_url, LimitKey("key", family, 1_000)) >= 1_000
        fresh = RateLimiter.redis(redis_url, clock=frozen())
        instances.append(fresh)
        assert not await hit(fresh)
    finally:
        for limiter in instances:
            await limiter.aclose()


async def test_a_lease_is_spent_only_in_its_own_window(redis_url: str) -> None:
    now = [NOW]
    limiter = RateLimiter.redis(redis_url, clock=lambda: now[0])
    try:
        key = LimitKey("tenant", ident(), 1_000)
        for _ in range(995):
            await limiter.hit(key)  # 5 of the last block left unspent
        now[0] += WINDOW
        decision = await limiter.hit(key)
        assert decision.remaining == 999
        async with Redis.from_url(redis_url) as redis:
            counts = sorted(
                [int(await redis.get(name)) async for name in redis.scan_iter(f"*{key.identity}*")]
            )
        assert counts == [11, 1_000]  # the new window: this hit and a block of 10
    finally:
        await limiter.aclose()


async def test_an_unreachable_redis_gives_the_leases_back(redis_url: str) -> None:
    """A hit that needed Redis and found it down is counted in memory; what its keys took from
    their leases goes back to them."""
    limiter = RateLimiter.redis(redis_url, clock=frozen())
    try:
        leased, small = LimitKey("tenant", ident(), 1_000), LimitKey("visitor", ident(), 5)
        await limiter.hit(leased)  # counted with a block of 10 more
        script = limiter._script

        async def down(*args: object, **kwargs: object) -> object:
            raise ConnectionRefusedError("down")

        limiter._script = down  # type: ignore[assignment]
        degraded = await limiter.hit(small, leased)
        assert degraded.degraded
        assert degraded.allowed
        limiter._script = script
        limiter._redis_down_until = 0.0
        calls = _counting_calls(limiter)
        for _ in range(10):
            assert (await limiter.hit(leased)).allowed
        assert not calls  # all ten were still in the lease
        assert await _counter(redis_url, leased) == 11
    finally:
        await limiter.aclose()

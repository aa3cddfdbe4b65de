"""Per-tenant rate limits set by the tenant's plan, shared by all instances through Redis.

Strategy: **fixed one-minute windows**, counted through the ``limits`` library's storage
interface — its atomic ``incr`` (on Redis an ``INCRBY`` + ``EXPIRE`` Lua script; in memory
``LocalStorage`` below), the very call ``limits``' ``FixedWindowRateLimiter.hit`` makes, used
directly because ``hit`` throws away the count that this module needs for its headers.

Why fixed windows, of the three strategies ``limits`` offers:

- **One round trip per hit, headers included.** The reply to an increment is the window's count,
  so ``remaining`` is exact; windows are aligned to the clock, so the reset time is computed here,
  not asked of Redis. With Redis, all the keys of a hit are counted by one Lua script (the
  ``limits`` storage's ``INCRBY`` + ``EXPIRE``, for each key in turn, stopping at the first one
  over its limit): one round trip per request, not one per key, each costing ≈ 70–100 µs of
  the server's CPU in the Python client. ``limits``' moving window and sliding window counter
  answer a hit with a bare yes/no: their ``RateLimit-*`` headers and ``Retry-After`` would cost a
  second round trip per key (``get_window_stats``).
- **Small state.** One integer per key and window. The moving window keeps a timestamp for every
  allowed hit (a 30,000-per-minute tenant would be a 30,000-item list, indexed at its far end on
  each hit); the sliding window counter keeps two counters and its count is an estimate anyway.
- **The price:** a client can fit up to twice its limit across a window boundary (the end of one
  window and the start of the next). Accepted: these limits guard against abuse and runaway
  clients, they are not meters, and no minute ever sees more than twice the limit.

Windows are one minute, aligned to the wall clock (which instances share) and shifted per
identity by a stable hash, so that the clients of a tenant do not all reset on the same second.
No burst allowance is needed: a fixed window lets a whole minute's quota through at once.

Consistency: each ``incr`` is atomic, so N concurrent hits on a limit of L let exactly L through,
on one instance or many.

Leases: with Redis, a quota of at least ``LEASE_MIN × LEASE_SHARE`` (1,000 a minute) is counted
in blocks. A hit that finds this instance's block of the key's window spent asks Redis for the
hit and a block more (``LimitKey.lease``: 1 % of the limit, at most ``LEASE_MAX``) in the same
script call; Redis keeps only what fits under the limit, so instances together never admit
more than the quota. The following hits are counted in this instance's memory until the block
is spent: no round trip, no waiting. The price: near a window's end the instances can admit up
to one block each fewer than the limit (blocks reserved, not spent), and a leased key's
``remaining`` is this instance's view (Redis's count at its last reservation, less what it spent
since). One refill per key is in flight at a time; the hits that need Redis meanwhile are
counted there one by one. Smaller quotas are counted in Redis on every hit, exactly.

A refused hit still counts in its own window (its key stays exhausted)
but keys after the refusing one are not charged, so order keys from the narrowest to the widest
(per IP, per visitor, per key family, per tenant): one noisy visitor does not consume the tenant's
quota.

If Redis fails, the limiter counts in this instance's memory for a few seconds before trying
Redis again: the limits then hold per instance instead of across instances, requests do not fail,
and only the one request that finds Redis down waits (for the timeout at most).
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import structlog
from limits.aio.storage import RedisStorage, Storage
from limits.errors import StorageError
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from frontdesk.security.redis_script import RedisScript

log = structlog.get_logger("frontdesk.security")

Scope = Literal["ip", "tenant", "key", "visitor"]
SCOPES: frozenset[str] = frozenset(get_args(Scope))

REDIS_PREFIX = "frontdesk:rl"
"""Every key this module writes in Redis starts with ``frontdesk:rl:``."""

WINDOW = 60
"""Seconds in a window: every limit here is per minute."""

_NAMESPACE = "fw"
_RETRY_REDIS_AFTER = 5.0

LEASE_SHARE = 100
"""A lease is at most this fraction of its limit (1 %)…"""
LEASE_MIN = 10
"""…and at least this many requests: a smaller limit is counted in Redis on every hit."""
LEASE_MAX = 100
"""…and at most this many: what one instance can hold unspent, whatever the limit."""
_MAX_LEASES = 10_000

_HIT_SCRIPT = """
local replies = {}
for i, key in ipairs(KEYS) do
    local at = 4 * i - 3
    local want, need = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
    local limit = tonumber(ARGV[at + 2])
    local count = redis.call("incrby", key, want)
    if count == want then
        redis.call("expire", key, ARGV[at + 3])
    end
    local granted = want
    if count > limit then
        granted = math.max(limit - (count - want), 0)
        if granted >= need then
            count = redis.call("decrby", key, count - limit)
        elseif want > need then
            count = redis.call("decrby", key, want - need)
        end
    end
    replies[2 * i - 1] = count
    replies[2 * i] = granted
    if granted < need then
        break
    end
end
return replies
"""
"""Counts a hit on every key in order (``INCRBY``, and ``EXPIRE`` on a new window, as ``limits``'
own ``incr`` does), stopping at the first one over its limit. Each key asks ``want`` and needs
``need`` (the hit's cost, less what its lease covered): ``want`` is larger when a lease is
refilled, and then only what fits under the limit is kept. Returns each counted key's count and
what it was granted; a grant below ``need`` is a refusal, counted as a plain hit is."""


class PlanLimits(BaseModel):
    """Requests per minute allowed by a plan, for each kind of key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: int = Field(ge=1, description="all requests of the tenant")
    key: int = Field(ge=1, description="per API key family")
    visitor: int = Field(ge=1, description="per visitor, or per client IP within the tenant")
    ip_flood: int = Field(ge=1, description="before authentication, per client IP, all tenants")


PLANS: dict[str, PlanLimits] = {
    "free": PlanLimits(tenant=600, key=300, visitor=30, ip_flood=1200),
    "starter": PlanLimits(tenant=1_800, key=900, visitor=60, ip_flood=1200),
    "pro": PlanLimits(tenant=6_000, key=3_000, visitor=120, ip_flood=1200),
    "enterprise": PlanLimits(tenant=30_000, key=15_000, visitor=300, ip_flood=1200),
}


def plan_limits(plan: str, overrides: Mapping[Any, int] | None = None) -> PlanLimits:
    """The limits of ``plan`` with a tenant's per-minute ``overrides`` applied, validated.

    Raises ``KeyError`` for an unknown plan and ``pydantic.ValidationError`` for a bad override.
    """
    limits = PLANS[plan]
    if not overrides:
        return limits
    return PlanLimits.model_validate({**limits.model_dump(), **overrides})


@dataclass(frozen=True, slots=True)
class LimitKey:
    """One quota: its scope, who it counts (namespaced by tenant where relevant), its size.

    Its window offset and counter name are worked out once, when it is made: callers on the
    hot path keep their keys and hit them again."""

    scope: Scope
    identity: str
    per_minute: int
    offset: int = field(init=False, repr=False, compare=False)
    """Seconds this identity's windows are shifted by (``_offset``)."""
    lease: int = field(init=False, repr=False, compare=False)
    """Requests an instance reserves at once in Redis for this quota; 0: counted on every hit."""
    _name_parts: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"unknown rate limit scope {self.scope!r}")
        if self.per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        object.__setattr__(self, "offset", _offset(self.scope, self.identity))
        block = min(self.per_minute // LEASE_SHARE, LEASE_MAX)
        object.__setattr__(self, "lease", block if block >= LEASE_MIN else 0)
        object.__setattr__(
            self,
            "_name_parts",
            (f"{_NAMESPACE}/{self.scope}/{self.identity}/", f"/{self.per_minute}/1/minute"),
        )


@dataclass(slots=True)
class Decision:
    """The outcome of a hit, and the quota the response headers describe.

    Refused: the refusing key's quota. Allowed: the most constraining key's (least remaining).
    """

    allowed: bool
    scope: str | None
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int | None
    degraded: bool = False
    """Counted in this instance's memory because the shared store was unreachable."""

    def headers(self) -> dict[str, str]:
        """``RateLimit-Limit``/``-Remaining``/``-Reset`` (delta seconds), and ``Retry-After``."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The same headers, lower-cased, as ASGI header pairs."""
        headers = [
            (b"ratelimit-limit", b"%d" % self.limit),
            (b"ratelimit-remaining", b"%d" % self.remaining),
            (b"ratelimit-reset", b"%d" % self.reset_seconds),
        ]
        if self.retry_after is not None:
            headers.append((b"retry-after", b"%d" % self.retry_after))
        return headers


def _name(key: LimitKey, window: int) -> str:
    """The counter's name, as ``limits``' ``RateLimitItemPerMinute.key_for`` spells it
    (``fw/<scope>/<identity>/<window>/<per minute>/1/minute``)."""
    head, tail = key._name_parts
    return f"{head}{window}{tail}"


def _offset(scope: str, identity: str) -> int:
    # A stable hash (not hash(), which is salted per process): every instance must agree.
    return zlib.crc32(f"{scope}\0{identity}".encode()) % WINDOW


class LocalStorage(Storage):
    """Counters in this process's memory, behind the ``limits`` storage interface.

    ``limits``' own ``MemoryStorage`` scans every key it holds after each ``incr``: with 20,000
    live keys (a minute of distinct client IPs) a hit cost ≈ 2.7 ms instead of a few µs, and a
    flood from many addresses would make every request slower. Here keys are filed by the second
    they expire in, so expiring costs only what expires. Fixed windows need only ``incr``.
    """

    STORAGE_SCHEME = None

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self._counts: dict[str, int] = {}
        self._expires: dict[str, float] = {}
        self._due: dict[int, list[str]] = {}
        self._swept = int(time.time())

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _sweep(self, now: float) -> None:
        second = int(now)
        if second <= self._swept:
            return
        self._swept = second
        for due in [due for due in self._due if due <= second]:
            for key in self._due.pop(due):
                if self._expires.get(key, math.inf) <= now:
                    del self._expires[key], self._counts[key]

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Adds ``amount`` to ``key``'s counter, started with a life of ``expiry`` seconds."""
        return self.count(key, expiry, amount)

    def count(self, key: str, expiry: int, amount: int = 1) -> int:
        """``incr`` without the coroutine and the storage interface's error wrapping: what the
        limiter calls on its hot path (nothing here can fail or wait)."""
        now = time.time()
        if int(now) > self._swept:
            self._sweep(now)
        if self._expires.get(key, 0.0) > now:
            count = self._counts[key] + amount
        else:
            count = amount
            expires = now + expiry
            self._expires[key] = expires
            self._due.setdefault(math.ceil(expires), []).append(key)
        self._counts[key] = count
        return count

    async def get(self, key: str) -> int:
        """The counter of ``key``; 0 once expired."""
        return self._counts[key] if self._expires.get(key, 0.0) > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        """When ``key`` expires (epoch seconds); now if it does not exist."""
        now = time.time()
        expires = self._expires.get(key, now)
        return expires if expires > now else now

    async def check(self) -> bool:
        """Always healthy."""
        return True

    async def reset(self) -> int | None:
        """Forgets every counter; returns how many there were."""
        count = len(self._counts)
        self._counts.clear()
        self._expires.clear()
        self._due.clear()
        return count

    async def clear(self, key: str) -> None:
        """Forgets ``key``'s counter."""
        self._counts.pop(key, None)
        self._expires.pop(key, None)


def _redis_urls(url: str) -> tuple[str, str]:
    """``url`` as redis-py spells it, and as ``limits`` does (``async+redis://…``)."""
    plain = url.removeprefix("async+").replace("redis+unix://", "unix://", 1)
    if plain.startswith("unix://"):
        return plain, "async+redis+" + plain
    return plain, "async+" + plain


class RateLimiter:
    """Consumes quota from one or more keys per request; build with ``memory()`` or ``redis()``."""

    def __init__(
        self,
        storage: Storage,
        *,
        fallback: Storage | None = None,
        pool: ConnectionPool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._fallback = fallback
        self._pool = pool
        self._clock = clock
        self._redis_down_until = 0.0
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._local = storage if isinstance(storage, LocalStorage) else None
        self._script: AsyncScript | RedisScript | None = None
        if pool is not None and isinstance(storage, RedisStorage):
            self._script = _script_client(pool) or Redis(connection_pool=pool).register_script(
                _HIT_SCRIPT
            )
            self._prefix = REDIS_PREFIX + ":"

    @classmethod
    def memory(cls, *, clock: Callable[[], float] = time.time) -> RateLimiter:
        """Counts in this process: the embedded default, a single instance."""
        return cls(LocalStorage(), clock=clock)

    @classmethod
    def redis(
        cls,
        url: str,
        *,
        timeout: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> RateLimiter:
        """Counts in Redis at ``url`` (``redis://host:port/db``), shared by every instance.

        ``timeout`` bounds each Redis call; past it the hit is counted in memory instead.
        """
        plain, storage_uri = _redis_urls(url)
        pool = ConnectionPool.from_url(
            plain,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One immediate retry covers a pooled connection the server has closed; the
            # client's default (retries with backoff) would hold requests up on a dead server.
            retry=Retry(NoBackoff(), 1),
        )
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            storage_uri,
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=REDIS_PREFIX,
            **options,
        )
        return cls(storage, fallback=LocalStorage(), pool=pool, clock=clock)

    async def aclose(self) -> None:
        """Closes the Redis connections, if any."""
        if isinstance(self._script, RedisScript):
            await self._script.aclose()
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(self, *keys: LimitKey, cost: int = 1) -> Decision:
        """Consumes ``cost`` from each key in order; stops at (and reports) the first refusal."""
        if not keys:
            raise ValueError("hit needs at least one key")
        if cost < 1:
            raise ValueError("cost must be at least 1")
        now = self._clock()
        if self._local is not None:
            return _decide_in_memory(self._local, keys, now, cost)
        windows: list[int] = []
        resets: list[int] = []
        leases: list[_Lease | None] = []
        takes: list[int] = []
        remote = False
        for key in keys:
            shifted = now + key.offset
            window = int(shifted // WINDOW)
            windows.append(window)
            resets.append(max(1, math.ceil((window + 1) * WINDOW - shifted)))
            lease = self._lease(key, window) if key.lease and self._script is not None else None
            take = 0
            if lease is not None:
                take = min(lease.left, cost)
                lease.left -= take
            leases.append(lease)
            takes.append(take)
            remote = remote or take < cost
        replies: list[int] = []
        degraded = False
        if remote:
            replies, degraded = await self._count(keys, windows, resets, leases, takes, cost)
        limit, remaining, reset = 0, -1, 0
        at = 0
        for index, key in enumerate(keys):
            lease, key_reset = leases[index], resets[index]
            need = cost - takes[index]
            if not need and lease is not None:  # covered by this instance's lease
                key_remaining = max(0, key.per_minute - lease.seen + lease.left)
            else:
                count, granted = replies[at], replies[at + 1]
                at += 2
                if granted < need:
                    _give_back(leases, takes, windows, index)
                    return Decision(
                        False, key.scope, key.per_minute, 0, key_reset, key_reset, degraded
                    )
                key_remaining = key.per_minute - count
                if lease is not None and lease.window == windows[index]:
                    lease.left += granted - need
                    lease.seen = count
                    key_remaining += lease.left
            if (
                remaining < 0
                or key_remaining < remaining
                or (key_remaining == remaining and key_reset > reset)
            ):
                limit, remaining, reset = key.per_minute, key_remaining, key_reset
        return Decision(True, None, limit, remaining, reset, None, degraded)

    def _lease(self, key: LimitKey, window: int) -> _Lease:
        """This instance's lease on ``key`` in ``window`` (an empty one for a new window)."""
        lease = self._leases.get(key._name_parts)
        if lease is None:
            if len(self._leases) >= _MAX_LEASES:
                self._leases.clear()  # what was unspent is lost: fewer requests, never more
            lease = self._leases[key._name_parts] = _Lease(window)
        elif lease.window != window:
            lease.window, lease.left, lease.seen, lease.refilling = window, 0, 0, False
        return lease

    async def _count(
        self,
        keys: tuple[LimitKey, ...],
        windows: list[int],
        resets: list[int],
        leases: list[_Lease | None],
        takes: list[int],
        cost: int,
    ) -> tuple[list[int], bool]:
        """The keys that their leases did not cover, counted in order up to the first one
        refused: each one's count and grant, flat; and whether they were counted in memory
        because Redis was unreachable (every key then, its lease given back)."""
        if time.monotonic() >= self._redis_down_until:
            names: list[str] = []
            arguments: list[int] = []
            refills: list[_Lease] = []
            for key, window, reset, lease, take in zip(
                keys, windows, resets, leases, takes, strict=True
            ):
                need = cost - take
                if not need:
                    continue
                want = need
                if lease is not None and not lease.refilling:
                    lease.refilling = True  # one refill in flight per lease
                    refills.append(lease)
                    want += key.lease
                names.append(_name(key, window))
                arguments += (want, need, key.per_minute, reset)
            try:
                return await self._count_in_redis(names, arguments), False
            except (StorageError, RedisError, OSError) as exc:
                error = exc.storage_error if isinstance(exc, StorageError) else exc
                self._redis_down_until = time.monotonic() + _RETRY_REDIS_AFTER
                log.warning(
                    "security.ratelimit_store_unavailable",
                    error=repr(error),
                    retry_in_s=_RETRY_REDIS_AFTER,
                )
            finally:
                for lease in refills:
                    lease.refilling = False
        _give_back(leases, takes, windows, 0)
        fallback = self._fallback
        if not isinstance(fallback, LocalStorage):
            fallback = self._fallback = LocalStorage()
        replies: list[int] = []
        for key, window, reset in zip(keys, windows, resets, strict=True):
            count = fallback.count(_name(key, window), reset, cost)
            replies += (count, cost if count <= key.per_minute else 0)
            if count > key.per_minute:
                break
        return replies, True

    async def _count_in_redis(self, names: list[str], arguments: list[int]) -> list[int]:
        """The hit script's replies (``_HIT_SCRIPT``) for the counters ``names``."""
        if self._script is None:
            return await _count_each(self._storage, names, arguments)
        replies = await self._script(keys=[self._prefix + name for name in names], args=arguments)
        return [int(reply) for reply in replies]


@dataclass(slots=True)
class _Lease:
    """Requests of one key's window that this instance reserved in Redis and has not spent."""

    window: int
    left: int = 0
    seen: int = 0
    """The key's count in Redis when this instance last counted it (its leases included)."""
    refilling: bool = False


def _give_back(
    leases: list[_Lease | None], takes: list[int], windows: list[int], start: int
) -> None:
    """Returns to their leases what the keys from ``start`` on took for a hit not made."""
    for index in range(start, len(takes)):
        lease = leases[index]
        if lease is not None and takes[index] and lease.window == windows[index]:
            lease.left += takes[index]
        takes[index] = 0


def _script_client(pool: ConnectionPool) -> RedisScript | None:
    """The hit script on one pipelined connection of its own (``redis_script``), for a plain
    TCP or Unix socket Redis; None for anything else (TLS), which redis-py's script serves."""
    options = pool.connection_kwargs
    if pool.connection_class not in (Connection, UnixDomainSocketConnection):
        return None
    return RedisScript(
        _HIT_SCRIPT,
        host=options.get("host", "127.0.0.1"),
        port=int(options.get("port", 6379)),
        path=options.get("path") if pool.connection_class is UnixDomainSocketConnection else None,
        db=int(options.get("db", 0) or 0),
        username=options.get("username"),
        password=options.get("password"),
        timeout=float(options.get("socket_timeout") or 0.5),
    )


def _decide_in_memory(
    storage: LocalStorage, keys: tuple[LimitKey, ...], now: float, cost: int
) -> Decision:
    """``RateLimiter.hit`` for counters in this process, in one pass (the hot path)."""
    limit, remaining, reset = 0, -1, 0
    for key in keys:
        shifted = now + key.offset
        window = int(shifted // WINDOW)
        key_reset = max(1, math.ceil((window + 1) * WINDOW - shifted))
        head, tail = key._name_parts
        count = storage.count(f"{head}{window}{tail}", key_reset, cost)
        if count > key.per_minute:
            return Decision(False, key.scope, key.per_minute, 0, key_reset, key_reset)
        key_remaining = key.per_minute - count
        if (
            remaining < 0
            or key_remaining < remaining
            or (key_remaining == remaining and key_reset > reset)
        ):
            limit, remaining, reset = key.per_minute, key_remaining, key_reset
    return Decision(True, None, limit, remaining, reset, None)


async def _count_each(storage: Storage, names: list[str], arguments: list[int]) -> list[int]:
    """``_HIT_SCRIPT`` key by key through ``storage`` (no leases: ``want`` is ``need``)."""
    replies: list[int] = []
    for index, name in enumerate(names):
        need, limit, reset = arguments[4 * index + 1 : 4 * index + 4]
        count = await storage.incr(name, reset, need)
        replies += (count, need if count <= limit else 0)
        if count > limit:
            break
    return replies

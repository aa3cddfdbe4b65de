"""Cache invalidation across instances and processes: "this changed, drop your copy".

A change is written to the invalidation log in the same transaction as the change itself
(``announce``); every instance polls the log (twice a second), so a change made anywhere, even
by the CLI against the embedded database, reaches every cache within a second. With Redis the
message is also published at once. Listeners are idempotent: hearing twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

import orjson
import structlog
from redis.asyncio import Redis
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.realtime.models import Invalidation
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database, on_commit

log = structlog.get_logger("frontdesk.realtime")
CHANNEL = "frontdesk:invalidate"
POLL_SECONDS = 0.5
KEEP = timedelta(hours=1)
Listener = Callable[[str], None]


def announce(session: AsyncSession, topic: str, key: str) -> None:
    """Record, in the caller's transaction, that ``key`` of ``topic`` changed."""
    session.add(Invalidation(topic=topic, key=key[:255]))
    bus: InvalidationBus | None = session.info.get("bus")
    if bus is not None:
        on_commit(session, lambda: bus.invalidate(topic, key))


class InvalidationBus:
    def __init__(self, db: Database | None = None, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._db = db
        self._poll = poll_seconds
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._last_id = 0
        self._poller: asyncio.Task[None] | None = None

    def on(self, topic: str, listener: Listener) -> None:
        """Call ``listener(key)`` when ``key`` of ``topic`` changes (``*``: drop everything)."""
        self._listeners[topic].append(listener)

    async def invalidate(self, topic: str, key: str) -> None:
        self._deliver(topic, key)

    def _deliver(self, topic: str, key: str) -> None:
        for listener in self._listeners.get(topic, ()):
            try:
                listener(key)
            except Exception:
                log.exception("realtime.invalidation_listener_failed", topic=topic)

    def _deliver_all(self) -> None:
        for topic in list(self._listeners):
            self._deliver(topic, "*")

    async def start(self) -> None:
        if self._db is None:
            return
        async with self._db.session() as session:
            self._last_id = (await session.execute(select(func.max(Invalidation.id)))).scalar() or 0
        self._poller = asyncio.create_task(self._run_poll(), name="frontdesk-invalidation-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def poll(self) -> int:
        """Deliver what the log holds past the last entry seen; returns how many."""
        assert self._db is not None  # noqa: S101 (only started with a database)
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(Invalidation.id, Invalidation.topic, Invalidation.key)
                    .where(Invalidation.id > self._last_id)
                    .order_by(Invalidation.id)
                    .limit(1000)
                )
            ).all()
        for row_id, topic, key in rows:
            self._deliver(topic, key)
            self._last_id = row_id
        return len(rows)

    async def prune(self) -> None:
        assert self._db is not None  # noqa: S101 (only started with a database)
        async with self._db.session() as session:
            await session.execute(
                delete(Invalidation).where(Invalidation.created_at < utcnow() - KEEP)
            )

    async def _run_poll(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(self._poll)
            try:
                await self.poll()
                rounds += 1
                if rounds % 7200 == 0:
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("realtime.invalidation_poll_failed")


class RedisInvalidationBus(InvalidationBus):
    """The log, plus Redis pub/sub so other instances hear at once rather than at their poll."""

    def __init__(self, redis: Redis, db: Database | None = None) -> None:
        super().__init__(db)
        self._redis = redis
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def invalidate(self, topic: str, key: str) -> None:
        self._deliver(topic, key)
        await self._redis.publish(CHANNEL, orjson.dumps([topic, key]))

    async def start(self) -> None:
        await super().start()
        self._reader = asyncio.create_task(self._read(), name="frontdesk-invalidation-redis")
        await asyncio.wait_for(self._ready.wait(), 5)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await super().stop()

    async def _read(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._ready.set()
                    async for item in pubsub.listen():
                        if item.get("type") == "message":
                            self._receive(item["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("realtime.redis_error")
                await asyncio.sleep(1)

    def _receive(self, data: bytes) -> None:
        try:
            topic, key = orjson.loads(data)
        except (ValueError, TypeError):
            log.warning("realtime.bad_invalidation")
            return
        self._deliver(str(topic), str(key))

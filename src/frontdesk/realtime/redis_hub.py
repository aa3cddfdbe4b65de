"""The hub across instances: events go through Redis pub/sub, one subscription per process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import orjson
import structlog
from redis.asyncio import Redis

from frontdesk.realtime.hub import RESYNC, Event, Hub, Key

log = structlog.get_logger("frontdesk.realtime")
CHANNEL_PREFIX = "frontdesk:conv:"


class RedisHub(Hub):
    def __init__(self, redis: Redis) -> None:
        super().__init__()
        self._redis = redis
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, key: Key, event: Event) -> None:
        body = orjson.dumps({"e": event.event, "d": event.data, "s": event.seq})
        await self._redis.publish(f"{CHANNEL_PREFIX}{key[0]}:{key[1]}", body)

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="frontdesk-redis-hub")
        await asyncio.wait_for(self._ready.wait(), 5)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                    if self._ready.is_set():
                        # Reconnected: events may have been missed, so streams re-read the store.
                        for key in list(self._subscribers):
                            self.dispatch(key, RESYNC)
                    self._ready.set()
                    async for item in pubsub.listen():
                        if item.get("type") == "pmessage":
                            self._deliver(item["channel"], item["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("realtime.redis_error")
                await asyncio.sleep(1)

    def _deliver(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        try:
            tenant, conversation = name.removeprefix(CHANNEL_PREFIX).split(":", 1)
            body = orjson.loads(data)
            key = (uuid.UUID(tenant), uuid.UUID(conversation))
            self.dispatch(key, Event(event=body["e"], data=body["d"], seq=body["s"]))
        except (ValueError, KeyError, TypeError):
            log.warning("realtime.bad_event", channel=name)

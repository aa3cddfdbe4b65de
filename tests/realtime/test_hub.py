"""The event hub in-process, and across two instances through Redis."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis

from frontdesk.realtime.hub import Event, Hub
from frontdesk.realtime.redis_hub import RedisHub


async def test_subscribers_get_only_their_conversation() -> None:
    hub = Hub()
    tenant, mine, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with hub.subscribe(tenant, mine) as queue:
        await hub.publish((tenant, other), Event("message", "{}", 1))
        await hub.publish((tenant, mine), Event("message", '{"a":1}', 2))
        assert (await asyncio.wait_for(queue.get(), 1)).seq == 2
        assert queue.empty()
    assert hub.subscriber_count == 0


async def test_a_slow_subscriber_is_told_to_resync() -> None:
    hub = Hub()
    key = (uuid.uuid4(), uuid.uuid4())
    async with hub.subscribe(*key) as queue:
        for seq in range(1, 400):
            await hub.publish(key, Event("message", "{}", seq))
        events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert any(event.event == "resync" for event in events)


async def test_events_cross_instances_through_redis(redis_url: str) -> None:
    a, b = RedisHub(Redis.from_url(redis_url)), RedisHub(Redis.from_url(redis_url))
    await a.start()
    await b.start()
    try:
        key = (uuid.uuid4(), uuid.uuid4())
        async with b.subscribe(*key) as queue:
            await a.publish(key, Event("message", '{"text":"hola"}', 7))
            event = await asyncio.wait_for(queue.get(), 5)
        assert event == Event("message", '{"text":"hola"}', 7)
    finally:
        await a.stop()
        await b.stop()

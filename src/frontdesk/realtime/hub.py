"""The event hub: publish a conversation's events, subscribe to them.

A stream resumes from the store (messages carry their ``seq``); the hub only carries what
happens while a stream is open, so losing an event here never loses a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from frontdesk.conversations.schemas import MessageOut

log = structlog.get_logger("frontdesk.realtime")
Key = tuple[uuid.UUID, uuid.UUID]
QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    data: str
    seq: int | None = None


RESYNC = Event(event="resync", data="{}")


def message_event(message: MessageOut) -> Event:
    return Event(event="message", data=message.model_dump_json(), seq=message.seq)


class Hub:
    """In-process fan-out; the base of the Redis hub, which adds the cross-instance hop."""

    def __init__(self) -> None:
        self._subscribers: dict[Key, set[asyncio.Queue[Event]]] = defaultdict(set)

    @property
    def subscriber_count(self) -> int:
        return sum(len(queues) for queues in self._subscribers.values())

    async def message(self, tenant_id: uuid.UUID, message: MessageOut) -> None:
        await self.publish((tenant_id, message.conversation_id), message_event(message))

    async def signal(
        self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, event: str, data: dict[str, Any]
    ) -> None:
        await self.publish(
            (tenant_id, conversation_id), Event(event=event, data=orjson.dumps(data).decode())
        )

    async def publish(self, key: Key, event: Event) -> None:
        self.dispatch(key, event)

    def dispatch(self, key: Key, event: Event) -> None:
        for queue in list(self._subscribers.get(key, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A stream that cannot keep up drops what it holds and re-reads from the store.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RESYNC)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, tenant_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> AsyncIterator[asyncio.Queue[Event]]:
        key = (tenant_id, conversation_id)
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[key].add(queue)
        try:
            yield queue
        finally:
            queues = self._subscribers.get(key)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[key]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

"""When each IMAP mailbox is polled next: one ``email.poll`` outbox job per connection.

Each run enqueues its successor for the next slot of the connection's ``poll_seconds``; the
job's key names the connection and the slot, so two runs (a start-up's and the chain's) that
meet in one slot enqueue one successor between them and the chains merge.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.delivery.service import enqueue
from frontdesk.store.base import utcnow

POLL_JOB: Final = "email.poll"
DEFAULT_POLL_SECONDS: Final = 60


def polls(kind: str, options: dict[str, Any]) -> bool:
    """Whether a connection reads its mail by IMAP."""
    return kind == "email" and options.get("inbound", "imap") == "imap"


def next_slot(now: datetime, seconds: int) -> datetime:
    """The start of the slot after the one ``now`` is in."""
    step = max(1, seconds)
    current = int(now.timestamp()) // step
    return datetime.fromtimestamp((current + 1) * step, tz=UTC)


async def schedule_poll(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    options: dict[str, Any],
    *,
    at: datetime | None = None,
) -> None:
    """Queue the connection's poll for ``at`` (default: now) unless that slot has one."""
    seconds = int(options.get("poll_seconds") or DEFAULT_POLL_SECONDS)
    when = at or utcnow()
    slot = int(when.timestamp()) // max(1, seconds)
    await enqueue(
        session,
        tenant_id,
        kind=POLL_JOB,
        payload={"connection_id": str(connection_id)},
        key=f"{POLL_JOB}:{connection_id}:{slot}",
        run_at=when,
    )

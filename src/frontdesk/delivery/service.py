"""Enqueue outbox jobs in the caller's transaction; list and retry dead ones."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.delivery.models import OutboxJob
from frontdesk.store.base import utcnow
from frontdesk.store.db import on_commit
from frontdesk.store.repository import TenantRepository

Wakeup = Callable[[], None]


class OutboxRepository(TenantRepository[OutboxJob]):
    model = OutboxJob


async def enqueue(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    kind: str,
    payload: dict[str, Any],
    key: str,
    run_at: datetime | None = None,
    fresh: bool = False,
) -> OutboxJob:
    """Add a job (idempotent on ``key`` within the tenant); runners are woken after commit.

    ``fresh`` says the key is new by construction (derived from a row made in this
    transaction), which saves the look-up."""
    repo = OutboxRepository(session, tenant_id)
    if not fresh:
        existing = (
            await session.execute(repo.select().where(OutboxJob.idempotency_key == key))
        ).scalar_one_or_none()
        if existing is not None:
            return existing
    job = repo.add(
        OutboxJob(kind=kind, payload=payload, idempotency_key=key, run_at=run_at or utcnow())
    )
    wakeup = session.info.get("wakeup")
    if wakeup is not None:
        on_commit(session, wakeup)
    return job


def backoff(attempt: int, *, base: float = 1.0, cap: float = 3600.0) -> timedelta:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)]."""
    return timedelta(seconds=random.uniform(0, min(cap, base * 2**attempt)))  # noqa: S311

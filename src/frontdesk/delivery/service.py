"""Enqueue outbox jobs in the caller's transaction; list and retry dead ones."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
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
    max_attempts: int | None = None,
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
    if max_attempts is not None:
        job.max_attempts = max_attempts
    wakeup = session.info.get("wakeup")
    if wakeup is not None:
        on_commit(session, wakeup)
    return job


def backoff(attempt: int, *, base: float = 1.0, cap: float = 3600.0) -> timedelta:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)]."""
    return timedelta(seconds=random.uniform(0, min(cap, base * 2**attempt)))  # noqa: S311


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a kind of job retries: the delay after failed attempt ``n`` is uniform in
    ``[floor·d, d]`` with ``d = min(cap, base·2^n)`` seconds (``floor`` 0 is full jitter), and
    the job is dead-lettered after ``max_attempts``."""

    max_attempts: int = 8
    base: float = 1.0
    cap: float = 3600.0
    floor: float = 0.0

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * 2.0 ** min(attempt, 64))

    def delay(self, attempt: int) -> timedelta:
        top = self.ceiling(attempt)
        return timedelta(seconds=random.uniform(self.floor * top, top))  # noqa: S311

    def min_span(self) -> timedelta:
        """The shortest time from the first attempt to the last (every delay at its floor)."""
        return timedelta(
            seconds=sum(self.floor * self.ceiling(n) for n in range(1, self.max_attempts))
        )

    def max_span(self) -> timedelta:
        return timedelta(seconds=sum(self.ceiling(n) for n in range(1, self.max_attempts)))


DEFAULT_POLICY = RetryPolicy()


async def list_jobs(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> Sequence[OutboxJob]:
    """Jobs, newest first, optionally of one tenant, status and kind (the caller picks the
    scope: one tenant's, or the operator's system scope for all of them)."""
    query = select(OutboxJob)
    if tenant_id is not None:
        query = OutboxRepository(session, tenant_id).select()
    if status is not None:
        query = query.where(OutboxJob.status == status)
    if kind is not None:
        query = query.where(OutboxJob.kind == kind)
    query = query.order_by(OutboxJob.updated_at.desc(), OutboxJob.id.desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def retry_dead(
    session: AsyncSession,
    *,
    job_ids: Sequence[uuid.UUID] | None = None,
    tenant_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Put dead letters back to pending with their attempts reset (those in ``job_ids``, or all
    of them, of one tenant when given); returns the ids that were dead. Runners are woken after
    commit."""
    query = update(OutboxJob).where(OutboxJob.status == "dead")
    if job_ids is not None:
        query = query.where(OutboxJob.id.in_(list(job_ids)))
    if tenant_id is not None:
        query = query.where(OutboxJob.tenant_id == tenant_id)
    result = await session.execute(
        query.values(status="pending", attempts=0, run_at=utcnow(), locked_until=None)
        .returning(OutboxJob.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(result.scalars().all())
    wakeup = session.info.get("wakeup")
    if ids and wakeup is not None:
        on_commit(session, wakeup)
    return ids

"""Retention: conversations idle for longer than the tenant's ``retention_days`` are deleted,
with their messages (``None``, the default, keeps everything).

A conversation's ``updated_at`` moves with every message, so the age is that of its last
activity. Contacts and leads are kept (a lead's link to a purged conversation is cleared by its
foreign key); a contact's own erasure is ``conversations.rights.erase_contact``.

Scheduling: each tenant has a daily ``retention.sweep`` outbox job. The handler
(``make_retention_sweep``) purges that tenant and enqueues the next day's run, so the chain
carries itself; ``schedule_retention`` (at start-up) gives every tenant today's job when it
has none, which also starts the chain for tenants created since. ``sweep_all`` does the same
work at once for every tenant, each in its own unit of work (``frontdesk retention sweep``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.repository import ConversationRepository, MessageRepository
from frontdesk.conversations.rights import drop_jobs
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.service import enqueue
from frontdesk.delivery.worker import Handler
from frontdesk.security.audit import record
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.repository import TenantTable
from frontdesk.tenancy.service import to_context
from frontdesk.tenancy.store import TenantContextStore

RETENTION_JOB = "retention.sweep"
SWEEP_AT = time(3, 0)
"""When (UTC) each day's sweep is due: a quiet hour in the Americas."""
BATCH = 500
log = structlog.get_logger("frontdesk.conversations")


def retention_days(tenant: TenantContext) -> int | None:
    """The tenant's retention period in days, or None to keep conversations forever."""
    return tenant.settings.retention_days


async def purge_expired(
    session: AsyncSession, tenant: TenantContext, *, now: datetime | None = None
) -> int:
    """Delete the tenant's conversations (and their messages) last active more than
    ``retention_days`` before ``now``; returns how many conversations went."""
    days = retention_days(tenant)
    if days is None:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=days)
    conversations = ConversationRepository(session, tenant.id)
    messages = MessageRepository(session, tenant.id)
    purged = erased_messages = jobs = 0
    while True:
        # In batches, so a first sweep over years of history stays within sane statements.
        ids = list(
            (
                await session.execute(
                    conversations.select()
                    .where(Conversation.updated_at < cutoff)
                    .with_only_columns(Conversation.id)
                    .limit(BATCH)
                )
            ).scalars()
        )
        if not ids:
            break
        jobs += await drop_jobs(session, tenant.id, ids, ())
        result = await session.execute(
            delete(Message)
            .where(Message.tenant_id == messages.tenant_id, Message.conversation_id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        erased_messages += int(getattr(result, "rowcount", 0) or 0)
        result = await session.execute(
            delete(Conversation)
            .where(Conversation.tenant_id == conversations.tenant_id, Conversation.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        purged += int(getattr(result, "rowcount", 0) or 0)
    if purged:
        record(
            session,
            tenant.id,
            actor="system",
            action="retention.purged",
            data={
                "conversations": purged,
                "messages": erased_messages,
                "jobs": jobs,
                "retention_days": days,
                "before": cutoff.isoformat(),
            },
        )
        log.info(
            "retention.purged",
            tenant=tenant.slug,
            conversations=purged,
            messages=erased_messages,
            retention_days=days,
        )
    return purged


@dataclass(frozen=True, slots=True)
class SweepResult:
    """One tenant's part of a sweep: ``error`` is set when its purge failed (and rolled back)."""

    tenant: str
    retention_days: int | None
    purged: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-able data."""
        return {
            "tenant": self.tenant,
            "retention_days": self.retention_days,
            "purged": self.purged,
            "error": self.error,
        }


async def sweep_all(db: Database, *, now: datetime | None = None) -> list[SweepResult]:
    """Purge expired conversations of every tenant, each in its own unit of work (one tenant
    failing leaves the others swept)."""
    async with db.session() as session:
        tenant_ids = [row.id for row in await TenantTable(session).all()]
    results = []
    for tenant_id in tenant_ids:
        results.append(await _sweep_one(db, tenant_id, now=now))
    return [result for result in results if result is not None]


async def _sweep_one(
    db: Database, tenant_id: uuid.UUID, *, now: datetime | None
) -> SweepResult | None:
    slug, days = str(tenant_id), None
    try:
        async with db.session() as session:
            row = await TenantTable(session).by_id(tenant_id)
            if row is None:
                return None
            slug = row.slug
            tenant = to_context(row)
            days = retention_days(tenant)
            purged = await purge_expired(session, tenant, now=now)
    except Exception as exc:
        log.exception("retention.sweep_failed", tenant=slug)
        return SweepResult(tenant=slug, retention_days=days, purged=0, error=type(exc).__name__)
    return SweepResult(tenant=slug, retention_days=days, purged=purged)


def next_sweep(now: datetime) -> datetime:
    """When the run after one made at ``now`` is due: the sweep time of the next calendar day
    (UTC), so each day's job, keyed by its date, enqueues exactly one successor."""
    return datetime.combine(now.date() + timedelta(days=1), SWEEP_AT, tzinfo=now.tzinfo)


def _key(when: datetime) -> str:
    return f"retention:{when.date().isoformat()}"


def make_retention_sweep(tenants: TenantContextStore) -> Handler:
    """The ``retention.sweep`` handler: purge the job's tenant, then enqueue its next run."""

    async def sweep(session: AsyncSession, job: OutboxJob) -> None:
        tenant = await tenants.by_id(job.tenant_id, session=session)
        await purge_expired(session, tenant)
        following = next_sweep(utcnow())
        await enqueue(
            session,
            tenant.id,
            kind=RETENTION_JOB,
            payload={},
            key=_key(following),
            run_at=following,
        )

    return sweep


async def schedule_retention(db: Database, *, now: datetime | None = None) -> int:
    """Give every tenant today's ``retention.sweep`` job unless it has one (pending or done);
    returns how many were added. Safe on every start of every instance."""
    moment = now or utcnow()
    async with db.session() as session:
        tenant_ids = [row.id for row in await TenantTable(session).all()]
    added = 0
    for tenant_id in tenant_ids:
        try:
            async with db.session() as session:
                job = await enqueue(
                    session, tenant_id, kind=RETENTION_JOB, payload={}, key=_key(moment)
                )
                if job in session.new:
                    added += 1
        except IntegrityError:
            # Another instance scheduled it first (or the tenant was just deleted).
            continue
    return added

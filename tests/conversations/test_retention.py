"""Retention: conversations idle past the tenant's ``retention_days`` are purged with their
messages; recent ones stay; ``None`` keeps everything; the sweep covers every tenant."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from frontdesk.conversations.models import Conversation
from frontdesk.conversations.repository import (
    ContactRepository,
    ConversationRepository,
    LeadRepository,
    MessageRepository,
)
from frontdesk.conversations.retention import (
    RETENTION_JOB,
    make_retention_sweep,
    next_sweep,
    purge_expired,
    schedule_retention,
    sweep_all,
)
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.service import OutboxRepository
from frontdesk.runtime import Runtime
from frontdesk.store.base import utcnow
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.schemas import TenantSettings
from frontdesk.tenancy.service import get_tenant, to_context, update_settings
from tests.conversations.test_rights import audit, count, seed_person
from tests.factories import make_tenant

FIELD = "TenantSettings.retention_days: int | None = Field(default=None, ge=1, le=3650)"


def require_field() -> None:
    if "retention_days" not in TenantSettings.model_fields:
        pytest.fail(f"the settings schema has no retention_days yet: add {FIELD}")


def with_retention(tenant: TenantContext, days: int | None) -> TenantContext:
    require_field()
    settings = TenantSettings.model_validate(
        {**tenant.settings.model_dump(mode="json"), "retention_days": days}
    )
    return dataclasses.replace(tenant, settings=settings)


async def age(runtime: Runtime, tenant: TenantContext, conversation: uuid.UUID, days: int) -> None:
    """Make the conversation's last activity ``days`` old."""
    async with runtime.db.session() as session:
        repo = ConversationRepository(session, tenant.id)
        await session.execute(
            update(Conversation)
            .where(Conversation.tenant_id == repo.tenant_id, Conversation.id == conversation)
            .values(updated_at=utcnow() - timedelta(days=days))
            .execution_options(synchronize_session=False)
        )


async def conversations_of(runtime: Runtime, tenant: TenantContext) -> set[uuid.UUID]:
    async with runtime.db.session() as session:
        repo = ConversationRepository(session, tenant.id)
        return {row.id for row in (await session.execute(repo.select())).scalars()}


async def test_old_conversations_go_with_their_messages_recent_ones_stay(
    runtime: Runtime,
) -> None:
    tenant = with_retention((await make_tenant(runtime)).context, 30)
    person = await seed_person(runtime, tenant)
    old, recent = person.conversations
    await age(runtime, tenant, old, 31)
    await age(runtime, tenant, recent, 29)

    async with runtime.db.session() as session:
        purged = await purge_expired(session, tenant)

    assert purged == 1
    assert await conversations_of(runtime, tenant) == {recent}
    assert await count(runtime, tenant, MessageRepository, conversation_id=old) == 0
    assert await count(runtime, tenant, MessageRepository, conversation_id=recent) == 2
    # The contact and its lead stay; the lead no longer points at the purged conversation.
    assert await count(runtime, tenant, ContactRepository, id=person.contact) == 1
    async with runtime.db.session() as session:
        lead = await LeadRepository(session, tenant.id).get(person.lead)
        assert lead is not None
        assert lead.conversation_id is None
    (event,) = await audit(runtime, tenant, "retention.purged")
    assert event.actor == "system"
    assert event.data["conversations"] == 1
    assert event.data["messages"] == 2
    assert event.data["retention_days"] == 30

    async with runtime.db.session() as session:
        assert await purge_expired(session, tenant) == 0


async def test_now_sets_the_cutoff(runtime: Runtime) -> None:
    tenant = with_retention((await make_tenant(runtime)).context, 7)
    person = await seed_person(runtime, tenant)
    async with runtime.db.session() as session:
        assert await purge_expired(session, tenant, now=utcnow() + timedelta(days=6)) == 0
    async with runtime.db.session() as session:
        assert await purge_expired(session, tenant, now=utcnow() + timedelta(days=8)) == 2
    assert await conversations_of(runtime, tenant) == set()
    assert await count(runtime, tenant, ContactRepository, id=person.contact) == 1


async def test_no_retention_keeps_everything(runtime: Runtime) -> None:
    tenant = with_retention((await make_tenant(runtime)).context, None)
    person = await seed_person(runtime, tenant)
    for conversation in person.conversations:
        await age(runtime, tenant, conversation, 3650)
    async with runtime.db.session() as session:
        assert await purge_expired(session, tenant, now=utcnow() + timedelta(days=3650)) == 0
    assert await conversations_of(runtime, tenant) == set(person.conversations)


async def test_purge_touches_no_other_tenant(runtime: Runtime) -> None:
    tenant = with_retention((await make_tenant(runtime)).context, 1)
    other = (await make_tenant(runtime)).context
    mine = await seed_person(runtime, tenant)
    theirs = await seed_person(runtime, other)
    for conversation in theirs.conversations:
        await age(runtime, other, conversation, 400)
    for conversation in mine.conversations:
        await age(runtime, tenant, conversation, 400)
    async with runtime.db.session() as session:
        assert await purge_expired(session, tenant) == 2
    assert await conversations_of(runtime, other) == set(theirs.conversations)


async def test_the_sweep_covers_every_tenant_in_its_own_unit_of_work(runtime: Runtime) -> None:
    require_field()
    keeping = await make_tenant(runtime)
    purging = await make_tenant(runtime)
    async with runtime.db.session() as session:
        row = await get_tenant(session, purging.slug)
        await update_settings(session, row, {"retention_days": 10}, actor="test")
        purging_context = to_context(row)
    kept = await seed_person(runtime, keeping.context)
    gone = await seed_person(runtime, purging_context)
    for tenant, person in ((keeping.context, kept), (purging_context, gone)):
        for conversation in person.conversations:
            await age(runtime, tenant, conversation, 11)

    results = {result.tenant: result for result in await sweep_all(runtime.db)}

    assert results[purging.slug].purged == 2
    assert results[purging.slug].retention_days == 10
    assert results[purging.slug].error is None
    assert results[keeping.slug].purged == 0
    assert results[keeping.slug].retention_days is None
    assert results[keeping.slug].as_dict()["purged"] == 0
    assert await conversations_of(runtime, purging_context) == set()
    assert await conversations_of(runtime, keeping.context) == set(kept.conversations)


async def test_the_daily_job_purges_and_enqueues_the_next_day(runtime: Runtime) -> None:
    require_field()
    sample = await make_tenant(runtime)
    async with runtime.db.session() as session:
        row = await get_tenant(session, sample.slug)
        await update_settings(session, row, {"retention_days": 5}, actor="test")
        tenant = to_context(row)
    person = await seed_person(runtime, tenant)
    await age(runtime, tenant, person.conversations[0], 6)

    now = utcnow()
    assert await schedule_retention(runtime.db, now=now) >= 1
    assert await schedule_retention(runtime.db, now=now) == 0
    today = f"retention:{now.date().isoformat()}"
    assert await count(runtime, tenant, OutboxRepository, idempotency_key=today) == 1

    handler = make_retention_sweep(runtime.tenants)
    async with runtime.db.session() as session:
        repo = OutboxRepository(session, tenant.id)
        job = (
            await session.execute(repo.select().where(OutboxJob.idempotency_key == today))
        ).scalar_one()
        assert job.kind == RETENTION_JOB
        await handler(session, job)
    assert await conversations_of(runtime, tenant) == {person.conversations[1]}
    following = next_sweep(utcnow())
    tomorrow = f"retention:{following.date().isoformat()}"
    async with runtime.db.session() as session:
        repo = OutboxRepository(session, tenant.id)
        queued = (
            await session.execute(repo.select().where(OutboxJob.idempotency_key == tomorrow))
        ).scalar_one()
        assert queued.kind == RETENTION_JOB
        assert queued.run_at == following
        assert queued.status == "pending"


def test_the_next_sweep_is_the_next_days() -> None:
    at = datetime.fromisoformat("2026-03-01T01:00:00+00:00")
    assert next_sweep(at) == datetime.fromisoformat("2026-03-02T03:00:00+00:00")
    late = datetime.fromisoformat("2026-03-01T23:59:00+00:00")
    assert next_sweep(late) == datetime.fromisoformat("2026-03-02T03:00:00+00:00")

"""Inbound messages (WhatsApp's webhooks) under concurrency: each provider message id stored once, one contact per
sender, message numbers without gaps, the decide job in the message's transaction; and a
web-only process (``FRONTDESK_RUN_JOBS=false``) that stores without running the jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from frontdesk.app import create_app
from frontdesk.conversations.models import ChannelIdentity, Contact, Conversation, Message
from frontdesk.delivery.models import OutboxJob
from frontdesk.runtime import Runtime, build_runtime
from frontdesk.settings import Settings
from frontdesk.store.scope import system_scope
from tests.channels import meta
from tests.channels.conftest import graph  # noqa: F401 (the fake Graph API fixture)
from tests.channels.test_whatsapp import post
from tests.conftest import fresh_database
from tests.factories import SampleTenant, connect_whatsapp, make_tenant

# Replies go to a fake Graph API during each test (and are waited for), never to another test's.
pytestmark = pytest.mark.usefixtures("graph")


async def _rows(runtime: Runtime, tenant: SampleTenant, model: Any) -> list[Any]:
    async with runtime.db.session() as session, system_scope(session):
        query = select(model).where(model.tenant_id == tenant.context.id)
        return list(await session.scalars(query))


async def _setup(runtime: Runtime) -> tuple[SampleTenant, str]:
    tenant = await make_tenant(runtime)
    return tenant, await connect_whatsapp(runtime, tenant)


async def _settle(runtime: Runtime, tenant: SampleTenant) -> None:
    """Wait until the tenant's jobs (decisions, replies sent to the fake Graph API) are over,
    so that none is left to reach another test's Graph API."""
    for _ in range(500):
        jobs = await _rows(runtime, tenant, OutboxJob)
        if jobs and all(job.status in {"done", "dead"} for job in jobs):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the tenant's jobs did not finish")


async def test_concurrent_retries_store_a_message_once_and_leave_no_gap(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant, phone_number_id = await _setup(runtime)
    first = meta.notification(phone_number_id, messages=[meta.text("Hola, ¿tienen tienda?")])
    assert (await post(client, first)).json()["messages"] == 1
    retried = meta.notification(phone_number_id, messages=[meta.text("¿Y cuánto cuesta?")])
    answers = await asyncio.gather(*(post(client, retried) for _ in range(6)))
    assert all(answer.status_code == 200 for answer in answers)
    counts = [answer.json() for answer in answers]
    assert sum(c["messages"] for c in counts) == 1
    assert sum(c["duplicates"] for c in counts) == 5
    after = meta.notification(phone_number_id, messages=[meta.text("Gracias")])
    assert (await post(client, after)).json()["messages"] == 1
    inbound = sorted(
        (m for m in await _rows(runtime, tenant, Message) if m.direction == "in"),
        key=lambda m: m.seq,
    )
    assert [m.text for m in inbound] == ["Hola, ¿tienen tienda?", "¿Y cuánto cuesta?", "Gracias"]
    # Replies take numbers too; the inbound ones, and all of them, have no gaps or repeats.
    numbers = sorted(m.seq for m in await _rows(runtime, tenant, Message))
    assert numbers == list(range(1, len(numbers) + 1))
    conversations = await _rows(runtime, tenant, Conversation)
    assert len(conversations) == 1
    assert conversations[0].last_seq >= numbers[-1]
    await _settle(runtime, tenant)


async def test_concurrent_first_messages_of_a_sender_make_one_contact(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant, phone_number_id = await _setup(runtime)
    texts = [f"mensaje {n}" for n in range(5)]
    answers = await asyncio.gather(
        *(
            post(client, meta.notification(phone_number_id, messages=[meta.text(text)]))
            for text in texts
        )
    )
    assert [answer.json()["messages"] for answer in answers] == [1] * 5
    assert len(await _rows(runtime, tenant, Contact)) == 1
    identities = await _rows(runtime, tenant, ChannelIdentity)
    assert [(i.channel, i.external_id) for i in identities] == [("whatsapp", "573001234567")]
    conversations = await _rows(runtime, tenant, Conversation)
    assert len(conversations) == 1
    inbound = [m for m in await _rows(runtime, tenant, Message) if m.direction == "in"]
    assert sorted(m.text for m in inbound) == texts
    assert {m.conversation_id for m in inbound} == {conversations[0].id}
    contact = (await _rows(runtime, tenant, Contact))[0]
    assert (contact.display_name, contact.phone) == ("Camila Rojas", "+573001234567")
    await _settle(runtime, tenant)


async def test_each_stored_message_has_its_decide_job_and_a_profile_change_is_kept(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant, phone_number_id = await _setup(runtime)
    await post(client, meta.notification(phone_number_id, messages=[meta.text("hola")]))
    renamed = meta.notification(phone_number_id, messages=[meta.text("otra vez")], name="Cami R.")
    await post(client, renamed)
    inbound = [m for m in await _rows(runtime, tenant, Message) if m.direction == "in"]
    jobs = [j for j in await _rows(runtime, tenant, OutboxJob) if j.kind == "engine.decide"]
    assert sorted(j.idempotency_key for j in jobs) == sorted(f"decide:{m.id}" for m in inbound)
    assert all(j.payload["message_id"] in {str(m.id) for m in inbound} for j in jobs)
    contact = (await _rows(runtime, tenant, Contact))[0]
    assert contact.display_name == "Cami R."
    await _settle(runtime, tenant)


@pytest.fixture
def web_only(backend: str, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a process of its own, on a database of its own, that runs no jobs."""
    with fresh_database(backend, tmp_path) as url:
        yield settings.model_copy(
            update={"database_url": url, "data_dir": tmp_path, "run_jobs": False}
        )


async def test_a_web_only_process_stores_and_leaves_the_jobs_to_a_worker(
    web_only: Settings,
) -> None:
    own = web_only
    rt = build_runtime(own)
    app = create_app(own, runtime=rt)
    await rt.start()
    try:
        tenant, phone_number_id = await _setup(rt)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            payload = meta.notification(phone_number_id, messages=[meta.text("hola")])
            assert (await post(http, payload)).json()["messages"] == 1
        await asyncio.sleep(0.3)  # room for a runner that should not be there
        jobs = await _rows(rt, tenant, OutboxJob)
        assert [(j.kind, j.status) for j in jobs] == [("engine.decide", "pending")]
        # A worker process (here: a run of this runtime's runner) takes it from there.
        await rt.jobs.run_due()
        async with rt.db.session() as session, system_scope(session):
            done = await session.scalar(
                select(func.count())
                .select_from(OutboxJob)
                .where(OutboxJob.kind == "engine.decide", OutboxJob.status == "done")
            )
        assert done == 1
    finally:
        await rt.stop()

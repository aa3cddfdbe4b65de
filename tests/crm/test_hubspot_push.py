"""Leads into HubSpot end to end: a conversation whose score crosses the threshold becomes one
contact, one deal and one note, which later messages update — never a second one, also when a
push is retried after a timeout or two pushes of one lead run at once; provider errors retried,
dead-lettered and replayed."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from frontdesk.channels.connections import list_connections, update_connection
from frontdesk.crm.schemas import DEFAULT_STAGES
from frontdesk.crm.service import PUSH_JOB
from frontdesk.delivery.models import OutboxJob
from frontdesk.runtime import Runtime
from frontdesk.store.scope import bind_tenant
from tests.crm.fake_hubspot import FakeHubSpot
from tests.crm.support import (
    READY_BUYER,
    connect_hubspot,
    converse,
    lead_of,
    record_of,
    say,
    settle,
)
from tests.delivery.support import invoke, jobs_of
from tests.factories import make_tenant


async def test_a_lead_becomes_one_contact_deal_and_note_which_later_messages_update(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot
) -> None:
    tenant = await make_tenant(runtime)
    hs = await connect_hubspot(runtime, hubspot, tenant)
    chat = await converse(client, tenant, READY_BUYER[:2])
    await settle(runtime, tenant.context.id)
    lead = await lead_of(runtime, chat["conversation"]["id"])
    [contact] = hs.portal.of("contacts")
    [deal] = hs.portal.of("deals")
    [note] = hs.portal.of("notes")
    assert deal.properties["frontdesk_lead_id"] == str(lead.id)
    assert deal.properties["amount"] == "6000000"
    assert deal.properties["pipeline"] == "default"
    assert deal.properties["dealstage"] == DEFAULT_STAGES[lead.stage]  # type: ignore[index]
    assert deal.properties["dealname"].startswith("Tienda")
    assert deal.associations == [("contacts", contact.id, 3)]
    assert contact.properties["frontdesk_contact_id"] == str(lead.contact_id)
    assert sorted(note.associations) == sorted(
        [("contacts", contact.id, 202), ("deals", deal.id, 214)]
    )
    assert str(lead.id) in note.properties["hs_note_body"]
    assert "Presupuesto" in note.properties["hs_note_body"]
    assert note.properties["hs_timestamp"].isdigit()

    await say(client, tenant, chat, READY_BUYER[2:])
    await settle(runtime, tenant.context.id)
    assert [r.id for r in hs.portal.of("contacts")] == [contact.id]
    assert [r.id for r in hs.portal.of("deals")] == [deal.id]
    assert [r.id for r in hs.portal.of("notes")] == [note.id]
    assert contact.properties["email"] == "ana@example.com"
    assert "ana@example.com" in note.properties["hs_note_body"]
    assert len(hs.portal.writes("POST", "contacts")) == 1
    assert hs.portal.writes("PATCH", "deals")
    lead = await lead_of(runtime, chat["conversation"]["id"])
    assert deal.properties["dealstage"] == DEFAULT_STAGES[lead.stage]  # type: ignore[index]
    record = await record_of(runtime, lead.id)
    assert (record.contact_ref, record.deal_ref, record.note_ref) == (contact.id, deal.id, note.id)
    assert record.pushes >= 2


async def test_a_push_retried_after_a_timeout_finds_what_hubspot_made(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot
) -> None:
    tenant = await make_tenant(runtime)
    hs = await connect_hubspot(runtime, hubspot, tenant)
    # HubSpot makes the deal but answers after our client gave up: the push fails, is rolled
    # back (its ids with it) and retried.
    hubspot.fail(hs.token, 200, after=2.0, commit=True, match="POST /crm/v3/objects/deals")
    await converse(client, tenant, READY_BUYER[:2])
    statuses = await settle(runtime, tenant.context.id)
    assert set(statuses) == {"done"}
    jobs = await jobs_of(runtime, tenant.context.id, PUSH_JOB)
    assert any(job.attempts > 1 for job in jobs)
    assert len(hs.portal.of("contacts")) == 1
    assert len(hs.portal.of("deals")) == 1
    assert len(hs.portal.of("notes")) == 1
    assert len(hs.portal.writes("POST", "deals")) == 1


async def test_two_pushes_of_one_lead_at_once_make_it_once(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot
) -> None:
    tenant = await make_tenant(runtime)
    chat = await converse(client, tenant, READY_BUYER)  # a lead, before HubSpot is connected
    lead = await lead_of(runtime, chat["conversation"]["id"])
    hs = await connect_hubspot(runtime, hubspot, tenant)

    async def push() -> None:
        job = OutboxJob(
            id=uuid.uuid4(),
            tenant_id=tenant.context.id,
            kind=PUSH_JOB,
            payload={"lead_id": str(lead.id), "provider": "hubspot"},
            attempts=0,
        )
        async with runtime.db.session() as session:
            bind_tenant(session, tenant.context.id)
            await runtime.crm(session, job)

    await asyncio.gather(push(), push())
    assert len(hs.portal.of("contacts")) == 1
    assert len(hs.portal.of("deals")) == 1
    assert len(hs.portal.of("notes")) == 1
    assert (await record_of(runtime, lead.id)).pushes == 2


async def test_rate_limits_and_server_errors_are_retried_and_pushed_once(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot
) -> None:
    tenant = await make_tenant(runtime)
    hs = await connect_hubspot(runtime, hubspot, tenant)
    hubspot.fail(hs.token, 429, retry_after="1", message="You have reached your secondly limit.")
    hubspot.fail(hs.token, 502, times=2)
    await converse(client, tenant, READY_BUYER[:2])
    assert set(await settle(runtime, tenant.context.id)) == {"done"}
    refused = [c.status for c in hs.portal.calls if c.status >= 400]
    assert refused == [429, 502, 502]
    assert len(hs.portal.of("contacts")) == len(hs.portal.of("deals")) == 1


async def test_a_refused_token_dead_letters_the_push_and_a_replay_sends_it(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot, cli_env: dict[str, str]
) -> None:
    tenant = await make_tenant(runtime)
    hs = await connect_hubspot(runtime, None, tenant, token="pat-na1-revoked-token")
    await converse(client, tenant, READY_BUYER[:2])
    assert set(await settle(runtime, tenant.context.id)) == {"dead"}
    dead = await jobs_of(runtime, tenant.context.id, PUSH_JOB)
    assert all(job.attempts == 1 for job in dead)  # a 401 is not worth retrying
    assert all("401" in (job.last_error or "") for job in dead)

    portal = hubspot.portal("pat-na1-fixed-token")
    async with runtime.db.session() as session:
        [row] = await list_connections(session, tenant.context.id)
        await update_connection(
            session,
            runtime.box,
            tenant.context.id,
            row.id,
            credentials={"access_token": "pat-na1-fixed-token", "client_secret": "x" * 16},
            actor="test",
        )
    code, _out, err = await asyncio.to_thread(
        invoke, cli_env, "jobs", "retry", *(str(j.id) for j in dead)
    )
    assert code == 0, err
    assert set(await settle(runtime, tenant.context.id)) == {"done"}
    assert len(portal.of("deals")) == 1
    assert hs.portal.of("deals") == []

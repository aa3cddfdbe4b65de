"""Helpers of the CRM tests: a tenant connected to (fake) HubSpot, conversations that make a
lead, and waiting for the tenant's pushes to settle."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from frontdesk.channels.connections import add_connection
from frontdesk.conversations.models import Lead
from frontdesk.crm.models import CrmRecord
from frontdesk.crm.service import PUSH_JOB
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.crm.fake_hubspot import FakeHubSpot, Portal
from tests.delivery.support import jobs_of, make_due
from tests.factories import SampleTenant, start_chat, wait_for_reply

CLIENT_SECRET = "hubspot-client-secret-for-tests"
READY_BUYER = (
    "Quiero contratar una tienda virtual para vender ropa",
    "Tengo 6 millones de presupuesto y la necesito para el próximo mes",
    "Mi correo es ana@example.com y mi celular 300 123 4567",
)


@dataclass(frozen=True)
class Connected:
    tenant: SampleTenant
    portal_id: str
    token: str
    portal: Portal


async def connect_hubspot(
    rt: Runtime,
    hubspot: FakeHubSpot | None,
    tenant: SampleTenant,
    *,
    options: dict[str, Any] | None = None,
    token: str | None = None,
) -> Connected:
    """Connect a HubSpot portal of its own to ``tenant`` (its token opens only that portal)."""
    token = token or f"pat-na1-{secrets.token_hex(8)}"
    portal_id = str(secrets.randbelow(10**8) + 10**7)
    async with rt.db.session() as session:
        await add_connection(
            session,
            rt.box,
            tenant.context.id,
            kind="hubspot",
            account_id=portal_id,
            credentials={"access_token": token, "client_secret": CLIENT_SECRET},
            options=options or {},
            actor="test",
        )
    portal = hubspot.portal(token) if hubspot is not None else Portal()
    return Connected(tenant, portal_id, token, portal)


async def converse(
    client: httpx.AsyncClient, tenant: SampleTenant, texts: tuple[str, ...] | list[str]
) -> dict[str, Any]:
    """A web chat that says ``texts`` one by one, each answered; returns the chat."""
    chat = await start_chat(client, tenant)
    await say(client, tenant, chat, texts)
    return chat


async def say(
    client: httpx.AsyncClient,
    tenant: SampleTenant,
    chat: dict[str, Any],
    texts: tuple[str, ...] | list[str],
) -> None:
    url = f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages"
    headers = {"Authorization": f"Bearer {chat['visitor_token']}"}
    for text in texts:
        sent = await client.post(url, json={"text": text}, headers=headers)
        assert sent.status_code == 202, sent.text
        await wait_for_reply(client, tenant, chat, after=sent.json()["seq"])


async def settle(rt: Runtime, tenant_id: uuid.UUID, *, within: float = 20.0) -> list[str]:
    """Wait until none of the tenant's CRM pushes is pending or running (retries brought
    forward); returns the jobs' final statuses."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        jobs = await jobs_of(rt, tenant_id, PUSH_JOB)
        statuses = [job.status for job in jobs]
        if statuses and all(s in ("done", "dead") for s in statuses):
            return statuses
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the CRM pushes did not settle: {statuses}")
        await make_due(rt, tenant_id)
        await asyncio.sleep(0.05)


async def lead_of(rt: Runtime, conversation_id: str) -> Lead:
    async with rt.db.session() as session, system_scope(session):
        lead = await session.scalar(
            select(Lead).where(Lead.conversation_id == uuid.UUID(conversation_id))
        )
    assert lead is not None
    return lead


async def record_of(rt: Runtime, lead_id: uuid.UUID) -> CrmRecord:
    async with rt.db.session() as session, system_scope(session):
        record = await session.scalar(select(CrmRecord).where(CrmRecord.lead_id == lead_id))
    assert record is not None
    return record

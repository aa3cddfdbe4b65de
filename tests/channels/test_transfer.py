"""Web → WhatsApp: a one-time, expiring code carries the conversation (history and all) to
WhatsApp; used, expired and other tenants' codes link nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select, update

from frontdesk.channels.models import TransferCode
from frontdesk.channels.transfer import find_codes
from frontdesk.conversations.models import ChannelIdentity, Conversation, Message
from frontdesk.runtime import Runtime
from frontdesk.store.base import utcnow
from frontdesk.store.scope import system_scope
from tests.channels import meta
from tests.channels.fake_graph import FakeGraph
from tests.channels.test_whatsapp import eventually, post
from tests.factories import SampleTenant, chat_with, connect_whatsapp, make_tenant


async def ask_transfer(
    client: httpx.AsyncClient, tenant: SampleTenant, chat: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/transfer",
        json={"channel": "whatsapp"},
        headers={"Authorization": f"Bearer {chat['visitor_token']}"},
    )


async def conversation_of(runtime: Runtime, conversation_id: str) -> Conversation:
    async with runtime.db.session() as session, system_scope(session):
        row = await session.get(Conversation, uuid.UUID(conversation_id))
        assert row is not None
        return row


async def whatsapp_senders(runtime: Runtime, tenant: SampleTenant) -> dict[str, uuid.UUID]:
    async with runtime.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(ChannelIdentity).where(
                ChannelIdentity.tenant_id == tenant.context.id,
                ChannelIdentity.channel == "whatsapp",
            )
        )
        return {row.external_id: row.contact_id for row in rows}


@pytest.fixture
async def sales(runtime: Runtime) -> tuple[SampleTenant, str]:
    tenant = await make_tenant(runtime)
    return tenant, await connect_whatsapp(
        runtime, tenant, options={"phone_number": "+57 300 123 4567"}
    )


async def test_the_conversation_moves_to_whatsapp_with_its_history(
    client: httpx.AsyncClient, runtime: Runtime, graph: FakeGraph, sales: tuple[SampleTenant, str]
) -> None:
    tenant, phone_number_id = sales
    chat = await chat_with(client, tenant, "Hola, quiero una tienda virtual")
    response = await ask_transfer(client, tenant, chat)
    assert response.status_code == 200, response.text
    issued = response.json()
    link = urlparse(issued["link"])
    assert (link.scheme, link.netloc, link.path) == ("https", "wa.me", "/573001234567")
    prefilled = parse_qs(link.query)["text"][0]
    assert find_codes(prefilled) == [issued["code"]]

    stream_events: list[tuple[str, dict[str, Any]]] = []
    conversation_id = uuid.UUID(chat["conversation"]["id"])

    async def listen(
        tenant_id: uuid.UUID, conv: uuid.UUID, event: str, data: dict[str, Any]
    ) -> None:
        if conv == conversation_id:
            stream_events.append((event, data))

    original_signal = runtime.hub.signal
    runtime.hub.signal = listen  # type: ignore[method-assign]
    try:
        inbound = meta.text(prefilled, sender="573005550001")
        answer = await post(
            client, meta.notification(phone_number_id, messages=[inbound], wa_id="573005550001")
        )
    finally:
        runtime.hub.signal = original_signal  # type: ignore[method-assign]
    assert answer.status_code == 200, answer.text
    moved = await conversation_of(runtime, chat["conversation"]["id"])
    assert moved.channel == "whatsapp"
    assert ("transferred", {"channel": "whatsapp", "from": "webchat"}) in stream_events
    senders = await whatsapp_senders(runtime, tenant)
    assert senders["573005550001"] == uuid.UUID(chat["contact_id"])
    # The reply to the WhatsApp message goes out on WhatsApp, in the same conversation.
    sent = await eventually(lambda: graph.sent(phone_number_id))
    assert sent[0]["to"] == "573005550001"
    async with runtime.db.session() as session, system_scope(session):
        rows = (
            await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.seq)
            )
        ).all()
    assert [m.channel for m in rows][:2] == ["webchat", "webchat"]
    assert rows[2].channel == "whatsapp"
    assert rows[2].payload["transferred_from"] == "webchat"
    # The web chat itself no longer takes messages for it.
    late = await client.post(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        json={"text": "sigo aqui?"},
        headers={"Authorization": f"Bearer {chat['visitor_token']}"},
    )
    assert late.status_code == 409
    assert late.json()["type"].endswith("conversation-moved")


async def test_a_code_works_once(
    client: httpx.AsyncClient, runtime: Runtime, graph: FakeGraph, sales: tuple[SampleTenant, str]
) -> None:
    tenant, phone_number_id = sales
    chat = await chat_with(client, tenant, "hola")
    code = (await ask_transfer(client, tenant, chat)).json()["code"]
    first = meta.text(f"Codigo {code}", sender="573005550002")
    await post(client, meta.notification(phone_number_id, messages=[first], wa_id="573005550002"))
    second = meta.text(f"Codigo {code}", sender="573005550003")
    await post(client, meta.notification(phone_number_id, messages=[second], wa_id="573005550003"))
    senders = await whatsapp_senders(runtime, tenant)
    assert senders["573005550002"] == uuid.UUID(chat["contact_id"])
    assert senders["573005550003"] != uuid.UUID(chat["contact_id"])


async def test_an_expired_code_links_nothing(
    client: httpx.AsyncClient, runtime: Runtime, graph: FakeGraph, sales: tuple[SampleTenant, str]
) -> None:
    tenant, phone_number_id = sales
    chat = await chat_with(client, tenant, "hola")
    code = (await ask_transfer(client, tenant, chat)).json()["code"]
    async with runtime.db.session() as session, system_scope(session):
        await session.execute(
            update(TransferCode)
            .where(TransferCode.conversation_id == uuid.UUID(chat["conversation"]["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    late = meta.text(f"Codigo {code}", sender="573005550004")
    await post(client, meta.notification(phone_number_id, messages=[late], wa_id="573005550004"))
    assert (await conversation_of(runtime, chat["conversation"]["id"])).channel == "webchat"
    assert (await whatsapp_senders(runtime, tenant))["573005550004"] != uuid.UUID(
        chat["contact_id"]
    )


async def test_another_tenants_code_links_nothing(
    client: httpx.AsyncClient, runtime: Runtime, graph: FakeGraph, sales: tuple[SampleTenant, str]
) -> None:
    tenant, _ = sales
    other = await make_tenant(runtime)
    other_number = await connect_whatsapp(runtime, other)
    chat = await chat_with(client, tenant, "hola")
    code = (await ask_transfer(client, tenant, chat)).json()["code"]
    message = meta.text(f"Codigo {code}", sender="573005550005")
    await post(client, meta.notification(other_number, messages=[message], wa_id="573005550005"))
    assert (await conversation_of(runtime, chat["conversation"]["id"])).channel == "webchat"
    assert await whatsapp_senders(runtime, tenant) == {}


async def test_transfer_needs_a_whatsapp_number(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    chat = await chat_with(client, tenant, "hola")
    response = await ask_transfer(client, tenant, chat)
    assert response.status_code == 422
    assert response.json()["type"].endswith("channel-not-configured")

"""The engine behind the web chat: decisions stored and readable, leads and their webhooks,
handoffs announced and respected, state kept per conversation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from frontdesk.conversations.models import Conversation, Lead
from frontdesk.delivery import webhooks
from frontdesk.engine.state import EngineState
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.delivery.conftest import local_hooks, receiver
from tests.delivery.receiver import Receiver
from tests.delivery.support import eventually, hooked_tenant
from tests.engine.conversations.harness import OPEN_HOURS, Script, Turn, run
from tests.factories import chat_with, make_secret_key, make_tenant

__all__ = ["local_hooks", "receiver"]  # the webhook tests' fixtures

READY_BUYER = (
    Turn("Quiero contratar una tienda virtual para vender ropa", agent="sales", score="up"),
    Turn("Tengo 6 millones de presupuesto y la necesito para el próximo mes", score="up"),
    Turn("Mi correo es ana@example.com y mi celular 300 123 4567", score="up"),
    Turn("¿Qué incluye la tienda?", agent="sales"),
)


@pytest.fixture(autouse=True)
def open_hours(runtime: Runtime) -> Iterator[None]:
    original = runtime.engine.clock
    runtime.engine.clock = lambda: OPEN_HOURS
    yield
    runtime.engine.clock = original


async def conversation_row(rt: Runtime, conversation_id: str) -> Conversation:
    async with rt.db.session() as session, system_scope(session):
        row = await session.get(Conversation, uuid.UUID(conversation_id))
    assert row is not None
    return row


async def leads_of(rt: Runtime, conversation_id: str) -> list[Lead]:
    async with rt.db.session() as session, system_scope(session):
        rows = await session.execute(
            select(Lead).where(Lead.conversation_id == uuid.UUID(conversation_id))
        )
    return list(rows.scalars())


async def test_a_ready_buyer_becomes_one_lead_announced_to_the_tenant(
    local_hooks: Runtime, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    hooked = await hooked_tenant(
        local_hooks, receiver, events=[webhooks.LEAD_CREATED, webhooks.LEAD_UPDATED]
    )
    outcome = await run(
        local_hooks, client, Script("ready", "es", READY_BUYER), tenant=hooked.tenant
    )
    conversation_id = outcome.chat["conversation"]["id"]

    leads = await leads_of(local_hooks, conversation_id)
    assert len(leads) == 1
    lead = leads[0]
    assert lead.stage == "ready_to_buy"
    assert lead.score >= 0.6
    assert lead.service_ids[0] == "online-store"
    assert lead.data["email"] == "ana@example.com"
    assert lead.data["phone"] == "3001234567"
    assert lead.data["budget"]["value"] == 6_000_000
    assert lead.data["timeline"] == "para el proximo mes"

    await eventually(lambda: len(receiver.accepted(webhooks.LEAD_CREATED)) == 1)
    created = receiver.accepted(webhooks.LEAD_CREATED)[0].body["data"]
    assert created["id"] == str(lead.id)
    assert created["conversation_id"] == conversation_id
    # Created when budget and timeline crossed the threshold; the contact details came next,
    # as an update of the same lead, never as a second one.
    assert created["data"]["budget"]["value"] == 6_000_000
    assert "email" not in created["data"]
    await eventually(
        lambda: any(
            d.body["data"]["data"].get("email") == "ana@example.com"
            for d in receiver.accepted(webhooks.LEAD_UPDATED)
        )
    )
    updates = receiver.accepted(webhooks.LEAD_UPDATED)
    assert {d.body["data"]["id"] for d in updates} == {str(lead.id)}
    assert len(receiver.accepted(webhooks.LEAD_CREATED)) == 1

    row = await conversation_row(local_hooks, conversation_id)
    state = EngineState.read(row.engine_state)
    assert state.lead_id == str(lead.id)
    assert row.stage == state.stage
    assert row.score == state.score


async def test_a_handoff_is_announced_and_the_bot_stays_silent(
    local_hooks: Runtime, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    hooked = await hooked_tenant(local_hooks, receiver, events=[webhooks.CONVERSATION_HANDOFF])
    script = Script(
        "human",
        "es",
        (
            Turn("Quiero hablar con un asesor", agent="handoff", actions=("handoff",)),
            Turn("¿Sigues ahí?", agent="silent"),
        ),
    )
    outcome = await run(local_hooks, client, script, tenant=hooked.tenant)
    conversation_id = outcome.chat["conversation"]["id"]
    assert (await conversation_row(local_hooks, conversation_id)).status == "handoff"
    await eventually(lambda: len(receiver.accepted(webhooks.CONVERSATION_HANDOFF)) == 1)
    data = receiver.accepted(webhooks.CONVERSATION_HANDOFF)[0].body["data"]
    assert data["conversation_id"] == conversation_id
    assert data["by"] == "bot"
    assert data["state"] == "requested"
    assert "asked for a person" in data["reason"]


async def test_why_the_bot_said_it_is_in_the_conversation(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    script = Script(
        "why",
        "es",
        (Turn("¿Cuánto cuesta una tienda virtual?", agent="sales", intents=("pricing",)),),
    )
    outcome = await run(runtime, client, script)
    reply = outcome.replies[0]
    assert reply is not None
    decision = reply["payload"]["decision"]
    assert decision["agent"] == "sales"
    assert decision["reasons"] == ["sales mode, intent pricing"]
    assert decision["score"]["after"] > decision["score"]["before"]
    assert any("online-store" in line for line in decision["score"]["explanation"])
    assert decision["signals"]["services"] == ["online-store"]
    assert decision["provider"] == "grounded"
    assert reply["payload"]["cards"][0]["service_id"] == "online-store"


async def test_the_api_shows_the_decision(runtime: Runtime, client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(runtime)
    chat = await chat_with(client, tenant, "Hola, ¿cuánto cuesta el SEO?")
    key = await make_secret_key(runtime, tenant, scopes=["conversations:read"])
    response = await client.get(
        f"/v1/conversations/{chat['conversation']['id']}",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    inbound, reply = response.json()["messages"]
    assert inbound["payload"]["intent"]["label"] == reply["payload"]["decision"]["intent"]
    assert reply["payload"]["decision"]["agent"] == "sales"
    assert "seo" in reply["payload"]["decision"]["signals"]["services"]

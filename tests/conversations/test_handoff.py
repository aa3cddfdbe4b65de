"""Human handoff in the conversations service: who has a conversation (system notes, the audit
log), the ``handoff`` signal on the web chat's stream, ``conversation.handoff`` and
``message.created`` to the tenant's endpoints, a handoff the engine decided, and bad input.

The helpers here are shared by the API and CLI tests of the same feature."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, update

from frontdesk.conversations import handoff
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Conversation
from frontdesk.delivery import webhooks
from frontdesk.delivery.models import OutboxJob
from frontdesk.errors import FrontDeskError
from frontdesk.realtime.hub import Event
from frontdesk.runtime import Runtime
from frontdesk.security.models import AuditEvent
from frontdesk.store.scope import system_scope
from tests.delivery.receiver import Receiver
from tests.delivery.support import eventually, hooked_tenant
from tests.factories import SampleTenant, make_tenant, start_chat


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def say(
    client: httpx.AsyncClient, tenant: SampleTenant, chat: dict[str, Any], text: str
) -> dict[str, Any]:
    """The visitor writes ``text``; returns the accepted message (``id``, ``seq``)."""
    response = await client.post(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        json={"text": text},
        headers=bearer(chat["visitor_token"]),
    )
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def web_history(
    client: httpx.AsyncClient, tenant: SampleTenant, chat: dict[str, Any], *, after: int = 0
) -> list[dict[str, Any]]:
    """The conversation's messages as the visitor's browser reads them."""
    response = await client.get(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        params={"after": after},
        headers=bearer(chat["visitor_token"]),
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def decided(rt: Runtime, tenant: SampleTenant, message_id: str) -> None:
    """Wait until the engine's job on ``message_id`` has run (answered or stayed silent)."""

    async def done() -> bool:
        async with rt.db.session() as session, system_scope(session):
            status = await session.scalar(
                select(OutboxJob.status).where(
                    OutboxJob.tenant_id == tenant.context.id,
                    OutboxJob.idempotency_key == f"decide:{message_id}",
                )
            )
        return status == "done"

    deadline = asyncio.get_running_loop().time() + 10
    while not await done():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the engine did not run on {message_id}")
        await asyncio.sleep(0.02)


async def assistant_reply(
    client: httpx.AsyncClient, tenant: SampleTenant, chat: dict[str, Any], *, after: int
) -> dict[str, Any]:
    """Wait for the assistant's reply after message ``after``."""
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        for message in await web_history(client, tenant, chat, after=after):
            if message["sender"] == "assistant":
                return message
        await asyncio.sleep(0.02)
    raise AssertionError("the assistant did not answer")


async def set_status(rt: Runtime, tenant: SampleTenant, conversation_id: str, status: str) -> None:
    """Put a conversation in ``status`` directly (what the engine or retention would do)."""
    async with rt.db.session() as session, system_scope(session):
        await session.execute(
            update(Conversation)
            .where(
                Conversation.tenant_id == tenant.context.id,
                Conversation.id == uuid.UUID(conversation_id),
            )
            .values(status=status)
        )


async def audit_of(rt: Runtime, tenant: SampleTenant) -> list[AuditEvent]:
    async with rt.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.tenant_id == tenant.context.id,
                AuditEvent.action.like("conversation.%"),
            )
            .order_by(AuditEvent.created_at)
        )
        return list(rows)


async def next_event(queue: asyncio.Queue[Event], name: str) -> dict[str, Any]:
    """The next ``name`` event on a hub subscription (other events are skipped)."""
    while True:
        event = await asyncio.wait_for(queue.get(), 5)
        if event.event == name:
            data: dict[str, Any] = orjson.loads(event.data)
            return data


async def test_take_reply_release_records_who_had_it_and_signals_the_stream(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    conversation_id = uuid.UUID(chat["conversation"]["id"])
    context = tenant.context
    async with runtime.hub.subscribe(context.id, conversation_id) as stream:
        async with runtime.db.session() as session:
            conversation = await conversations.get_conversation(session, context, conversation_id)
            taken = await handoff.take(
                session, context, conversation, agent=" Ana ", actor="key:1", events=runtime.hub
            )
            assert (taken.agent, taken.changed, conversation.status) == ("Ana", True, "handoff")
            # The signal waits for the commit.
            assert stream.empty()
        # The note is a message of the conversation (the stream's history has it too).
        note = await next_event(stream, "message")
        assert await next_event(stream, "handoff") == {"state": "taken", "agent": "Ana"}
        assert (note["sender"], note["payload"]["state"], note["payload"]["agent"]) == (
            "system",
            "taken",
            "Ana",
        )

        async with runtime.db.session() as session:
            conversation = await conversations.get_conversation(session, context, conversation_id)
            again = await handoff.take(
                session, context, conversation, agent="Ana", actor="key:1", events=runtime.hub
            )
            assert again.changed is False
            sent = await handoff.human_reply(
                session,
                context,
                conversation,
                "Hola, soy Ana. ¿En qué te ayudo?",
                agent="Ana",
                actor="key:1",
                events=runtime.hub,
                deliver=False,
            )
            assert sent.taken is False
        message = await next_event(stream, "message")
        assert (message["sender"], message["direction"], message["text"]) == (
            "agent",
            "out",
            "Hola, soy Ana. ¿En qué te ayudo?",
        )
        assert message["payload"]["agent"] == "Ana"

        async with runtime.db.session() as session:
            conversation = await conversations.get_conversation(session, context, conversation_id)
            assert await handoff.assignee(session, context, conversation) == "Ana"
            released = await handoff.release(
                session, context, conversation, actor="cli", events=runtime.hub
            )
            assert (released.changed, conversation.status) == (True, "open")
            assert await handoff.assignee(session, context, conversation) is None
        assert await next_event(stream, "handoff") == {"state": "released", "agent": "Ana"}

    history = await web_history(client, tenant, chat)
    assert [(m["sender"], m["payload"].get("state")) for m in history] == [
        ("system", "taken"),
        ("agent", None),
        ("system", "released"),
    ]
    audit = await audit_of(runtime, tenant)
    assert [(e.action, e.actor, e.data["agent"]) for e in audit] == [
        ("conversation.taken", "key:1", "Ana"),
        ("conversation.replied", "key:1", "Ana"),
        ("conversation.released", "cli", "Ana"),
    ]
    assert all(e.target == str(conversation_id) for e in audit)


async def test_a_handoff_the_engine_decided_is_taken_by_the_first_person_who_answers(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    accepted = await say(client, tenant, chat, "Hola")
    await assistant_reply(client, tenant, chat, after=accepted["seq"])
    # What the engine's handoff decision leaves: the status, and nobody assigned yet.
    await set_status(runtime, tenant, chat["conversation"]["id"], "handoff")
    context = tenant.context
    conversation_id = uuid.UUID(chat["conversation"]["id"])
    async with runtime.db.session() as session:
        conversation = await conversations.get_conversation(session, context, conversation_id)
        assert conversation.status == "handoff"
        assert await handoff.assignee(session, context, conversation) is None
        sent = await handoff.human_reply(
            session,
            context,
            conversation,
            "Hola, te atiende Luis.",
            agent="Luis",
            actor="cli",
            events=runtime.hub,
            deliver=False,
        )
        assert sent.taken is True
        assert await handoff.assignee(session, context, conversation) == "Luis"
        # A colleague takes it over.
        over = await handoff.take(
            session, context, conversation, agent="Marta", actor="cli", events=runtime.hub
        )
        assert over.changed is True
        assert await handoff.assignee(session, context, conversation) == "Marta"
    senders = [m["sender"] for m in await web_history(client, tenant, chat)]
    assert senders == ["visitor", "assistant", "system", "agent", "system"]


async def test_the_tenants_endpoints_hear_the_handoff_and_the_persons_message(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.webhooks.guard, "allow_private", True)
    receiver = Receiver()
    try:
        hooked = await hooked_tenant(runtime, receiver)
        chat = await start_chat(client, hooked.tenant)
        context = hooked.context
        conversation_id = uuid.UUID(chat["conversation"]["id"])
        async with runtime.db.session() as session:
            conversation = await conversations.get_conversation(session, context, conversation_id)
            sent = await handoff.human_reply(
                session,
                context,
                conversation,
                "Buenos días",
                agent="Ana",
                actor="cli",
                events=runtime.hub,
                deliver=False,
            )
            message_id = str(sent.message.id)
            await handoff.release(session, context, conversation, actor="cli", events=runtime.hub)

        await eventually(lambda: len(receiver.accepted(webhooks.CONVERSATION_HANDOFF)) == 2)
        states = sorted(
            (d.body["data"]["state"], d.body["data"]["status"], d.body["data"]["agent"])
            for d in receiver.accepted(webhooks.CONVERSATION_HANDOFF)
        )
        assert states == [("released", "open", "Ana"), ("taken", "handoff", "Ana")]
        assert {d.body["data"]["id"] for d in receiver.accepted(webhooks.CONVERSATION_HANDOFF)} == {
            str(conversation_id)
        }
        await eventually(
            lambda: any(
                d.body["data"]["id"] == message_id
                for d in receiver.accepted(webhooks.MESSAGE_CREATED)
            )
        )
        created = next(
            d.body["data"]
            for d in receiver.accepted(webhooks.MESSAGE_CREATED)
            if d.body["data"]["id"] == message_id
        )
        assert (created["sender"], created["text"], created["payload"]["agent"]) == (
            "agent",
            "Buenos días",
            "Ana",
        )
    finally:
        receiver.close()


@pytest.mark.parametrize(
    ("agent", "text", "client_id", "title"),
    [
        ("", "hola", None, "Invalid agent"),
        ("   ", "hola", None, "Invalid agent"),
        ("a" * 101, "hola", None, "Invalid agent"),
        ("Ana\x1b[2J", "hola", None, "Invalid agent"),
        ("Ana", "  ", None, "Invalid reply"),
        ("Ana", "x" * 4001, None, "Invalid reply"),
        ("Ana", "ho\x00la", None, "Invalid reply"),
        ("Ana", "hola", "bad id", "Invalid reply"),
        ("Ana", "hola", "x" * 65, "Invalid reply"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_stored(
    client: httpx.AsyncClient,
    runtime: Runtime,
    agent: str,
    text: str,
    client_id: str | None,
    title: str,
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    conversation_id = uuid.UUID(chat["conversation"]["id"])
    async with runtime.db.session() as session:
        conversation = await conversations.get_conversation(
            session, tenant.context, conversation_id
        )
        with pytest.raises(FrontDeskError) as refused:
            await handoff.human_reply(
                session,
                tenant.context,
                conversation,
                text,
                agent=agent,
                actor="cli",
                events=runtime.hub,
                deliver=False,
                client_id=client_id,
            )
        assert conversation.status == "open"
    assert (refused.value.status, refused.value.title) == (422, title)
    assert await web_history(client, tenant, chat) == []

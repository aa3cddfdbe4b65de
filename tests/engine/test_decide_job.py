"""``engine.decide`` answers a message once: a job run again on a message already answered —
inside the history window or older than it — stores nothing more; the reply is stored with the
engine's state, and steps back when a person took the conversation meanwhile."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Conversation, Message
from frontdesk.delivery.models import OutboxJob
from frontdesk.engine.reply import Reply
from frontdesk.engine.tasks import HISTORY_TURNS, make_decide
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.engine.conversations.harness import OPEN_HOURS, decided
from tests.factories import SampleTenant, make_tenant


@pytest.fixture(autouse=True)
def open_hours(runtime: Runtime) -> Iterator[None]:
    original = runtime.engine.clock
    runtime.engine.clock = lambda: OPEN_HOURS
    yield
    runtime.engine.clock = original


async def _receive(rt: Runtime, tenant: SampleTenant, conversation_id: uuid.UUID) -> Message:
    async with rt.db.session() as session:
        conversation = await conversations.get_conversation(
            session, tenant.context, conversation_id
        )
        received = await conversations.receive(
            session,
            tenant.context,
            conversation,
            text="¿Cuánto cuesta una tienda virtual?",
            external_id=None,
            events=rt.hub,
        )
    return received.message


async def _replies_to(rt: Runtime, message: Message) -> list[Message]:
    async with rt.db.session() as session, system_scope(session):
        rows = await session.execute(
            select(Message).where(Message.external_id == f"reply:{message.id}")
        )
    return list(rows.scalars())


async def _decide_again(rt: Runtime, tenant: SampleTenant, message: Message) -> None:
    decide = make_decide(rt.tenants, rt.engine, rt.hub, needs_delivery=lambda _: False)
    job = OutboxJob(
        tenant_id=tenant.context.id,
        kind="engine.decide",
        payload={"conversation_id": str(message.conversation_id), "message_id": str(message.id)},
    )
    async with rt.db.session() as session:
        await decide(session, job)


async def _conversation(rt: Runtime, tenant: SampleTenant) -> uuid.UUID:
    async with rt.db.session() as session:
        started = await conversations.start_web_conversation(
            session, tenant.context, contact_id=None
        )
    return started.conversation.id


async def test_a_message_in_the_window_is_not_answered_twice(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    message = await _receive(runtime, tenant, await _conversation(runtime, tenant))
    await decided(runtime, tenant, str(message.id))
    assert len(await _replies_to(runtime, message)) == 1

    await _decide_again(runtime, tenant, message)

    assert len(await _replies_to(runtime, message)) == 1


async def test_a_message_older_than_the_window_is_not_answered_twice(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    conversation_id = await _conversation(runtime, tenant)
    message = await _receive(runtime, tenant, conversation_id)
    await decided(runtime, tenant, str(message.id))
    await _push_out_of_the_window(runtime, tenant, conversation_id)

    await _decide_again(runtime, tenant, message)

    assert len(await _replies_to(runtime, message)) == 1


async def test_an_unanswered_message_older_than_the_window_is_answered(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    conversation_id = await _conversation(runtime, tenant)
    message = await _receive(runtime, tenant, conversation_id)
    await decided(runtime, tenant, str(message.id))
    async with runtime.db.session() as session, system_scope(session):
        (reply,) = await _replies_to(runtime, message)
        await session.delete(await session.get(Message, reply.id))
    await _push_out_of_the_window(runtime, tenant, conversation_id)

    await _decide_again(runtime, tenant, message)

    assert len(await _replies_to(runtime, message)) == 1


async def _push_out_of_the_window(
    rt: Runtime, tenant: SampleTenant, conversation_id: uuid.UUID
) -> None:
    """A person's notes, as many as the engine's history window holds, after the message."""
    async with rt.db.session() as session:
        conversation = await conversations.get_conversation(
            session, tenant.context, conversation_id
        )
        for n in range(HISTORY_TURNS):
            await conversations.append_outbound(
                session,
                tenant.context,
                conversation,
                sender="agent",
                text=f"nota {n}",
                payload={},
                external_id=None,
                events=rt.hub,
                deliver=False,
            )


async def _append_after(
    rt: Runtime, tenant: SampleTenant, message: Message, *, taken: bool
) -> tuple[Message | None, str]:
    """The engine's reply stored with a changed score pending; ``taken``: a person took the
    conversation meanwhile (written behind the loaded object's back, as another transaction
    would). Answers the reply and the status the loaded object ends with."""
    async with rt.db.session() as session:
        conversation = await conversations.get_conversation(
            session, tenant.context, message.conversation_id
        )
        conversation.score = 0.77
        conversation.engine_state = {"turns": 9}
        if taken:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(status="handoff")
                .execution_options(synchronize_session=False)
            )
        stored = await conversations.append_reply(
            session,
            tenant.context,
            conversation,
            Reply(text="Hola", language="es"),
            in_reply_to=message,
            events=rt.hub,
            deliver=False,
        )
        return stored, conversation.status


async def _row(rt: Runtime, conversation_id: uuid.UUID) -> Conversation:
    async with rt.db.session() as session, system_scope(session):
        row = await session.get(Conversation, conversation_id)
    assert row is not None
    return row


async def test_the_reply_and_the_engine_state_are_stored_together(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime, with_pack=False)
    message = await _receive(runtime, tenant, await _conversation(runtime, tenant))
    before = await _row(runtime, message.conversation_id)

    stored, status = await _append_after(runtime, tenant, message, taken=False)

    row = await _row(runtime, message.conversation_id)
    assert stored is not None
    assert stored.seq == before.last_seq + 1 == row.last_seq
    assert (row.score, row.engine_state, row.status, status) == (0.77, {"turns": 9}, "open", "open")
    assert row.language == "es"  # the reply's, written by the same reservation


async def test_a_person_who_took_the_conversation_meanwhile_wins(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime, with_pack=False)
    message = await _receive(runtime, tenant, await _conversation(runtime, tenant))
    before = await _row(runtime, message.conversation_id)

    stored, status = await _append_after(runtime, tenant, message, taken=True)

    row = await _row(runtime, message.conversation_id)
    assert stored is None
    assert await _replies_to(runtime, message) == []
    assert (row.status, status) == ("handoff", "handoff")
    # The number reserved for the reply was given back, and the reply's language not kept.
    assert row.last_seq == before.last_seq
    assert row.language is None
    # The engine's state is kept: it read the customer's message either way.
    assert (row.score, row.engine_state) == (0.77, {"turns": 9})


async def test_a_changed_payload_is_stored_once(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime, with_pack=False)
    received = await _receive(runtime, tenant, await _conversation(runtime, tenant))
    async with runtime.db.session() as session:
        message = await conversations.get_message(session, tenant.context, received.id)
        message.payload = {**message.payload, "intent": {"label": "pricing"}}
        await conversations.store_payload(session, tenant.context, message)
        # Written, and nothing left for a flush to write again.
        assert not session.is_modified(message)
        await conversations.store_payload(session, tenant.context, message)
    async with runtime.db.session() as session, system_scope(session):
        row = await session.get(Message, received.id)
    assert row is not None
    assert row.payload["intent"] == {"label": "pricing"}


async def test_the_intent_is_written_beside_a_reaction_stored_meanwhile(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime, with_pack=False)
    received = await _receive(runtime, tenant, await _conversation(runtime, tenant))
    async with runtime.db.session() as session:
        message = await conversations.get_message(session, tenant.context, received.id)
        message.payload = {**message.payload, "intent": {"label": "pricing"}}
        # The customer reacts to the message after the engine read it, before it writes.
        table = Message.__table__
        with session.no_autoflush:
            await session.execute(
                update(table).where(table.c.id == received.id).values(payload={"reaction": "👍"})
            )
        await conversations.store_payload(session, tenant.context, message)
    async with runtime.db.session() as session, system_scope(session):
        row = await session.get(Message, received.id)
    assert row is not None
    assert row.payload == {"reaction": "👍", "intent": {"label": "pricing"}}

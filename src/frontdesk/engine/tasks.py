"""The engine's job: decide on an inbound message and store the reply (``engine.decide``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import service as conversations
from frontdesk.conversations.events import ConversationEvents
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.worker import Handler
from frontdesk.engine.responder import Responder, Turn
from frontdesk.tenancy.store import TenantContextStore

HISTORY_TURNS = 12


def make_decide(
    tenants: TenantContextStore,
    responder: Responder,
    events: ConversationEvents,
    *,
    needs_delivery: Callable[[str], bool],
) -> Handler:
    """The ``engine.decide`` handler: history → responder → reply stored (with its delivery job
    where the channel needs one)."""

    async def decide(session: AsyncSession, job: OutboxJob) -> None:
        tenant = await tenants.by_id(job.tenant_id, session=session)
        conversation = await conversations.get_conversation(
            session, tenant, uuid.UUID(job.payload["conversation_id"])
        )
        if conversation.status == "handoff" or tenant.pack is None:
            return
        message_id = uuid.UUID(job.payload["message_id"])
        await events.signal(tenant.id, conversation.id, "typing", {"typing": True})
        recent = await conversations.recent_messages(
            session, tenant, conversation.id, limit=HISTORY_TURNS
        )
        message = next((m for m in recent if m.id == message_id), None)
        if message is None:
            # Older than the window (a backlog): read it on its own.
            message = await conversations.get_message(session, tenant, message_id)
        history = [
            Turn(role="visitor" if m.direction == "in" else "assistant", text=m.text)
            for m in recent
            if m.seq < message.seq
        ]
        reply = await responder.respond(
            pack=tenant.pack, text=message.text, history=history, language=None
        )
        await conversations.append_reply(
            session,
            tenant,
            conversation,
            reply,
            in_reply_to=message,
            events=events,
            deliver=needs_delivery(conversation.channel),
        )

    return decide

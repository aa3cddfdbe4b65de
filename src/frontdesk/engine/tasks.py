"""The engine's job: decide on an inbound message and store the reply (``engine.decide``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import service as conversations
from frontdesk.conversations.events import ConversationEvents
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.worker import Handler
from frontdesk.engine.router import NO_REPLY_STATUSES
from frontdesk.engine.service import Engine
from frontdesk.tenancy.store import TenantContextStore

HISTORY_TURNS = 12


def make_decide(
    tenants: TenantContextStore,
    engine: Engine,
    events: ConversationEvents,
    *,
    needs_delivery: Callable[[str], bool],
) -> Handler:
    """The ``engine.decide`` handler: history → engine → reply stored (with its delivery job
    where the channel needs one). A message already answered, a conversation a person has and
    a closed one get nothing.

    One transaction; on a message inside the history window, and when the engine touches no
    lead, five statements: the conversation, the recent messages (which also say whether the
    message is answered), the reply's number reserved (which locks the conversation's row,
    reads its status and writes the engine's state and score and the reply's language), the
    reply and the message's intent. Every write is a Core statement: no unit-of-work flush.
    """

    async def decide(session: AsyncSession, job: OutboxJob) -> None:
        tenant = await tenants.by_id(job.tenant_id, session=session)
        conversation = await conversations.get_conversation(
            session, tenant, uuid.UUID(job.payload["conversation_id"])
        )
        if conversation.status in NO_REPLY_STATUSES or tenant.pack is None:
            return
        message_id = uuid.UUID(job.payload["message_id"])
        answer_key = f"reply:{message_id}"
        recent = await conversations.recent_messages(
            session, tenant, conversation.id, limit=HISTORY_TURNS
        )
        message = next((m for m in recent if m.id == message_id), None)
        if message is not None:
            # Its answer, if any, came after it, so it is in the window too.
            if any(m.external_id == answer_key for m in recent):
                return
        else:
            # Older than the window (a backlog): read it, and its answer, on their own.
            answered = await conversations.find_message(
                session, tenant, channel=conversation.channel, external_id=answer_key
            )
            if answered is not None:
                return
            message = await conversations.get_message(session, tenant, message_id)
        await events.signal(tenant.id, conversation.id, "typing", {"typing": True})
        reply = await engine.decide(session, tenant, conversation, message, history=recent)
        if reply is not None:
            await conversations.append_reply(
                session,
                tenant,
                conversation,
                reply,
                in_reply_to=message,
                events=events,
                deliver=needs_delivery(conversation.channel),
            )
        # The message's intent; after the reply, so that the conversation's row is locked
        # before the message's (the order a conversation's cascading delete takes them in).
        await conversations.store_payload(session, tenant, message)

    return decide

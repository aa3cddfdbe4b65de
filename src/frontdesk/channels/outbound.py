"""From a stored outbound message to what its channel needs to send it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.base import Outbound, ThreadedAdapter
from frontdesk.channels.ingest import last_customer_message
from frontdesk.conversations.models import ChannelIdentity, Conversation, Message
from frontdesk.conversations.repository import IdentityRepository, MessageRepository
from frontdesk.delivery.errors import PermanentFailure
from frontdesk.engine.reply import Reply
from frontdesk.tenancy.context import TenantContext


async def prepare(
    session: AsyncSession,
    tenant: TenantContext,
    message: Message,
    conversation: Conversation,
    *,
    start: int = 0,
    adapter: object | None = None,
) -> Outbound:
    identities = IdentityRepository(session, tenant.id)
    recipient = (
        await session.execute(
            identities.select()
            .where(
                ChannelIdentity.contact_id == conversation.contact_id,
                ChannelIdentity.channel == message.channel,
            )
            .order_by(ChannelIdentity.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if recipient is None:
        raise PermanentFailure(f"the contact has no {message.channel} identity to send to")
    last = await last_customer_message(session, tenant, conversation.id, message.channel)
    return Outbound(
        message_id=message.id,
        reply=_reply(message, conversation),
        recipient=recipient.external_id,
        last_customer_at=last.created_at if last else None,
        in_reply_to=await _answered(session, tenant, message),
        start=start,
        thread=(
            await adapter.thread(session, tenant, message, conversation)
            if isinstance(adapter, ThreadedAdapter)
            else {}
        ),
        sender=message.sender,
    )


def _reply(message: Message, conversation: Conversation) -> Reply:
    try:
        return Reply.from_dict(message.payload)
    except ValueError:
        return Reply(text=message.text, language=conversation.language or "es")


async def _answered(session: AsyncSession, tenant: TenantContext, message: Message) -> str | None:
    """The provider id of the customer message ``message`` answers (``reply:<id>``)."""
    key = message.external_id or ""
    if not key.startswith("reply:"):
        return None
    try:
        inbound_id = uuid.UUID(key.removeprefix("reply:"))
    except ValueError:
        return None
    inbound = await MessageRepository(session, tenant.id).get(inbound_id)
    if inbound is None or inbound.channel != message.channel:
        return None
    return inbound.external_id

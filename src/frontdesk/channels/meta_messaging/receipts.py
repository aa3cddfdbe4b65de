"""What Messenger Platform notifications change besides storing messages: receipts that name
no message (a watermark: everything sent before it), and messages the customer unsent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.inbound import STATUS_ORDER, StatusEvent
from frontdesk.channels.meta_messaging.webhook import Deletion, Events, Watermark
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.repository import (
    ConversationRepository,
    IdentityRepository,
    MessageRepository,
)
from frontdesk.store.base import utcnow
from frontdesk.tenancy.context import TenantContext

MAX_RECEIPTS = 200


async def watermark_events(
    session: AsyncSession, tenant: TenantContext, events: Events, mark: Watermark
) -> list[StatusEvent]:
    """A status event for each of our messages to the customer, sent before the watermark,
    that the watermark moves on (``apply_status`` then applies them like any other)."""
    channel = events.channel
    identity = await IdentityRepository(session, tenant.id).find(channel, mark.recipient_id)
    if identity is None:
        return []
    behind = [
        status for status, rank in STATUS_ORDER.items() if 0 < rank < STATUS_ORDER[mark.status]
    ]
    conversations = (
        ConversationRepository(session, tenant.id)
        .select()
        .where(Conversation.contact_id == identity.contact_id)
        .with_only_columns(Conversation.id)
    )
    query = (
        MessageRepository(session, tenant.id)
        .select()
        .where(
            Message.conversation_id.in_(conversations.scalar_subquery()),
            Message.channel == channel,
            Message.direction == "out",
            Message.provider_id.is_not(None),
            Message.status.in_(behind),
            Message.created_at <= mark.until,
        )
        .limit(MAX_RECEIPTS)
    )
    return [
        StatusEvent(
            channel=channel,
            account_id=events.account_id,
            provider_id=str(message.provider_id),
            status=mark.status,
            recipient_id=mark.recipient_id,
            timestamp=mark.until,
        )
        for message in (await session.scalars(query)).all()
    ]


async def forget_deleted(
    session: AsyncSession, tenant: TenantContext, channel: str, deletion: Deletion
) -> Message | None:
    """The customer unsent a message: its text is dropped (the customer took it back), and
    the message stays in the thread, marked deleted. Returns it when it changed."""
    message = (
        await session.execute(
            MessageRepository(session, tenant.id)
            .select()
            .where(
                Message.channel == channel,
                Message.direction == "in",
                Message.external_id == deletion.provider_id,
            )
        )
    ).scalar_one_or_none()
    if message is None or message.payload.get("deleted"):
        return None
    message.text = ""
    message.payload = {
        key: value for key, value in message.payload.items() if key in ("kind", "reply_to")
    } | {"deleted": True, "deleted_at": utcnow().isoformat()}
    await session.flush()
    return message

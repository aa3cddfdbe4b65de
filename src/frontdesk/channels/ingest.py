"""Inbound events of any pushing channel, stored: messages (deduplicated on the provider's
message id, and redeeming transfer codes) and status events (applied in order)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from frontdesk.channels import transfer
from frontdesk.channels.inbound import InboundMessage, StatusEvent, advances
from frontdesk.conversations import service as conversations
from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.repository import ConversationRef, MessageRepository
from frontdesk.delivery.webhooks import CONVERSATION_TRANSFERRED, emit
from frontdesk.tenancy.context import TenantContext


class Ingested:
    """What became of an inbound message: the stored message (None for a reaction), whether
    it was a duplicate of one stored before, whether it redeemed a transfer code.

    ``build`` stands in for ``message`` where the message's columns are known but no ORM
    object was made (the batch writer's hot path): it is built on first use of ``message``."""

    __slots__ = ("_build", "_message", "duplicate", "transferred")

    def __init__(
        self,
        message: Message | None = None,
        duplicate: bool = False,
        transferred: bool = False,
        *,
        build: Callable[[], Message] | None = None,
    ) -> None:
        self._message = message
        self._build = build
        self.duplicate = duplicate
        self.transferred = transferred

    @property
    def message(self) -> Message | None:
        if self._message is None and self._build is not None:
            self._message, self._build = self._build(), None
        return self._message

    @property
    def stored(self) -> bool:
        """Whether a message stands behind this (false for a reaction)."""
        return self._message is not None or self._build is not None


async def ingest_message(
    session: AsyncSession,
    tenant: TenantContext,
    inbound: InboundMessage,
    *,
    events: ConversationEvents,
) -> Ingested:
    """Store one inbound message (once, whatever the provider's retries) and queue the
    decision on it, in the caller's unit of work; a reaction only marks the message it reacts
    to, and a message redeeming a transfer code queues ``conversation.transferred`` too.

    Routes that take many notifications at once store them with
    :class:`frontdesk.channels.batch.InboundWriter` instead (one transaction for all those
    waiting); this is what it does for the messages it does not batch.

    A plain message from a known sender (no reaction, no transfer code in its text) finds
    its conversation and its duplicate check in one look-up."""
    special = not is_plain(inbound)
    profile = profile_of(inbound)
    redeemed = None
    if special:
        stored = await conversations.find_message(
            session, tenant, channel=inbound.channel, external_id=inbound.provider_id
        )
        if stored is not None:
            return Ingested(message=stored, duplicate=True)
        if inbound.kind == "reaction":
            await _react(session, tenant, inbound)
            return Ingested(message=None)
        redeemed = await transfer.redeem(session, tenant, inbound, events=events)
    conversation: Conversation | ConversationRef
    if redeemed is not None:
        conversation = redeemed.conversation
    elif special:
        conversation = await conversations.conversation_for_identity(
            session, tenant, channel=inbound.channel, external_id=inbound.sender_id, profile=profile
        )
    else:
        thread = await conversations.thread_for_identity(
            session,
            tenant,
            channel=inbound.channel,
            external_id=inbound.sender_id,
            message_id=inbound.provider_id,
            profile=profile,
        )
        if isinstance(thread, Message):
            return Ingested(message=thread, duplicate=True)
        conversation = thread
    payload = payload_of(inbound)
    if redeemed is not None:
        payload["transferred_from"] = redeemed.previous_channel
    received = await conversations.receive(
        session,
        tenant,
        conversation,
        text=inbound.text,
        external_id=inbound.provider_id,
        events=events,
        sender="customer",
        payload=payload,
    )
    if redeemed is not None and not received.duplicate:
        conversation_id = str(received.message.conversation_id)
        await emit(
            session,
            tenant,
            CONVERSATION_TRANSFERRED,
            {"conversation_id": conversation_id, "channel": inbound.channel},
            key=f"{CONVERSATION_TRANSFERRED}:{conversation_id}:{inbound.provider_id}",
        )
    return Ingested(
        message=received.message, duplicate=received.duplicate, transferred=bool(redeemed)
    )


def is_plain(inbound: InboundMessage) -> bool:
    """A message that only needs storing: not a reaction (which marks another message) and
    carrying no transfer code (which may move the sender to another conversation)."""
    return inbound.kind != "reaction" and not transfer.find_codes(inbound.text)


def payload_of(inbound: InboundMessage) -> dict[str, Any]:
    """What the stored message keeps of the inbound one besides its text."""
    return {"kind": inbound.kind, **inbound.data} if inbound.data else {}


def profile_of(inbound: InboundMessage) -> conversations.Profile:
    """What the message tells of its sender, for the contact."""
    phone = f"+{inbound.sender_id}" if inbound.channel == "whatsapp" else None
    return conversations.Profile(name=inbound.sender_name, phone=phone)


async def _react(session: AsyncSession, tenant: TenantContext, inbound: InboundMessage) -> None:
    target_id = str(inbound.data.get("message_id") or "")
    if not target_id:
        return
    messages = MessageRepository(session, tenant.id)
    target = (
        await session.execute(
            messages.select().where(
                Message.channel == inbound.channel,
                (Message.provider_id == target_id) | (Message.external_id == target_id),
            )
        )
    ).scalar_one_or_none()
    if target is not None:
        # Only the reaction's key: the engine may be writing the message's intent meanwhile.
        reaction = {"reaction": inbound.data.get("emoji") or None}
        await messages.set_payload_keys(target.id, reaction)
        set_committed_value(target, "payload", {**target.payload, **reaction})


async def apply_status(
    session: AsyncSession, tenant: TenantContext, event: StatusEvent
) -> Message | None:
    """Move our message on to the reported status; an event older than what we know (they
    come out of order) changes nothing. Returns the message when it changed."""
    messages = MessageRepository(session, tenant.id)
    message = (
        await session.execute(
            messages.select()
            .where(Message.channel == event.channel, Message.provider_id == event.provider_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if message is None or not advances(message.status, event.status):
        return None
    message.status = event.status
    if event.error_code is not None:
        error = {"code": event.error_code, "title": event.error_title}
        message.payload = {**message.payload, "error": error}
    await session.flush()
    return message


async def last_customer_message(
    session: AsyncSession, tenant: TenantContext, conversation_id: uuid.UUID, channel: str
) -> Message | None:
    """The customer's latest message on ``channel`` in the conversation (for service windows)."""
    messages = MessageRepository(session, tenant.id)
    query = (
        messages.select()
        .where(
            Message.conversation_id == conversation_id,
            Message.channel == channel,
            Message.direction == "in",
        )
        .order_by(Message.seq.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()

"""An incoming email, stored: on its thread's conversation, once (its Message-ID is the
idempotency key), with its quoted reply and signature cut; a machine's email (an auto-reply,
a bounce, a list) is not stored and never answered, and a bounce of ours marks our message
failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.email import threads
from frontdesk.channels.email.message import MAX_TEXT, IncomingEmail, automated
from frontdesk.channels.email.text import strip_reply
from frontdesk.channels.inbound import InboundMessage, StatusEvent
from frontdesk.channels.ingest import apply_status, ingest_message
from frontdesk.conversations.events import ConversationEvents
from frontdesk.delivery import webhooks
from frontdesk.tenancy.context import Connection, TenantContext

log = structlog.get_logger("frontdesk.channels.email")
CHANNEL: Final = threads.CHANNEL


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one email: ``stored``, ``duplicate`` or ``ignored`` (with why)."""

    result: str
    reason: str | None = None
    message_id: Any = None


def reply_text(email: IncomingEmail) -> str:
    """What the customer wrote: the provider's own reply-only text when it gave one, else ours."""
    text = email.stripped if email.stripped and email.stripped.strip() else email.text
    text = strip_reply(text)
    return text[:MAX_TEXT] or (email.subject[:MAX_TEXT] if email.subject else "")


async def receive_email(
    session: AsyncSession,
    tenant: TenantContext,
    connection: Connection,
    email: IncomingEmail,
    *,
    events: ConversationEvents,
) -> Outcome:
    """Store ``email`` for ``tenant`` (its ``connection`` received it), in the caller's unit of
    work."""
    own = email.sender == connection.account_id
    reason = "our own address" if own else automated(email)
    if reason is not None or not email.sender:
        if email.bounced_id:
            await _bounced(session, tenant, connection, email)
        log.info("email.ignored", tenant=tenant.slug, reason=reason or "no sender")
        return Outcome("ignored", reason or "no sender")
    conversation = await threads.conversation_of(session, tenant, connection, email)
    if conversation is not None:
        await threads.join(session, tenant, conversation, email.sender)
    text = reply_text(email)
    data: dict[str, Any] = {"subject": email.subject, "from": email.sender}
    if email.attachments:
        data["attachments"] = [a.to_dict() for a in email.attachments]
    if len(email.recipients) > 1:
        data["recipients"] = list(email.recipients[:10])
    inbound = InboundMessage(
        channel=CHANNEL,
        account_id=connection.account_id,
        sender_id=email.sender,
        provider_id=email.message_id,
        text=text or "[email]",
        data=data,
        sender_name=email.sender_name,
        timestamp=email.date,
    )
    ingested = await ingest_message(session, tenant, inbound, events=events)
    if ingested.message is None:
        return Outcome("ignored", "not a message")
    if ingested.duplicate:
        return Outcome("duplicate", message_id=ingested.message.id)
    await threads.remember(session, tenant, connection, ingested.message.conversation_id, email)
    return Outcome("stored", message_id=ingested.message.id)


async def _bounced(
    session: AsyncSession, tenant: TenantContext, connection: Connection, email: IncomingEmail
) -> None:
    """A delivery report about one of our messages marks it failed (and tells the tenant)."""
    changed = await apply_status(
        session,
        tenant,
        StatusEvent(
            channel=CHANNEL,
            account_id=connection.account_id,
            provider_id=email.bounced_id or "",
            status="failed",
            error_code="bounce",
            error_title=email.subject[:200] or "undeliverable",
        ),
    )
    if changed is not None:
        await webhooks.message_status(session, tenant, changed)

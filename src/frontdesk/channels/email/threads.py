"""Email threads: which conversation an incoming email continues, and what our replies carry.

An email continues a conversation when it is sent to that conversation's reply address
(``reply+<token>@reply_domain``) or names in ``In-Reply-To``/``References`` a message of it
(our replies' Message-IDs are stored as their provider ids, the customer's as their external
ids). A sender we do not know yet who answers such a thread (a colleague in copy) joins the
thread's contact; a sender known as another contact stays that contact (a Message-ID is no
proof of identity strong enough to merge two people). Everything else starts or continues the
sender's own conversation, like any channel (``channels/ingest.py``).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.email.message import MAX_IDS, IncomingEmail
from frontdesk.channels.email.models import EmailThread
from frontdesk.conversations.models import ChannelIdentity, Conversation, Message
from frontdesk.conversations.repository import (
    ContactProfiles,
    ContactRepository,
    ConversationRepository,
    IdentityRepository,
    MessageRepository,
    insert_or_skip,
)
from frontdesk.ids import new_id
from frontdesk.store.base import utcnow
from frontdesk.store.repository import TenantRepository
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.context import Connection, TenantContext

CHANNEL: Final = "email"
REPLY_PREFIX: Final = "reply+"
_TOKEN = re.compile(r"^[a-z0-9]{16,32}$")


class EmailThreads(TenantRepository[EmailThread]):
    model = EmailThread


@dataclass(frozen=True, slots=True)
class ReplyAddress:
    token: str
    domain: str


def reply_address(recipient: str) -> ReplyAddress | None:
    """The token and domain of a per-conversation reply address, if ``recipient`` is one."""
    local, _, domain = recipient.lower().rpartition("@")
    if not local.startswith(REPLY_PREFIX):
        return None
    token = local.removeprefix(REPLY_PREFIX)
    return ReplyAddress(token, domain) if _TOKEN.match(token) else None


async def thread_of_token(session: AsyncSession, token: str) -> EmailThread | None:
    """The thread a reply address names, whatever its tenant (the recipient names the tenant:
    a deliberate cross-tenant read)."""
    async with system_scope(session):
        found: EmailThread | None = await session.scalar(
            select(EmailThread).where(EmailThread.token == token)
        )
        return found


async def conversation_of(
    session: AsyncSession, tenant: TenantContext, connection: Connection, email: IncomingEmail
) -> Conversation | None:
    """The conversation ``email`` continues: by its reply address, else by the Message-IDs it
    answers; None when it starts a thread of its own."""
    domain = connection.options.get("reply_domain")
    threads = EmailThreads(session, tenant.id)
    conversations = ConversationRepository(session, tenant.id)
    for recipient in email.recipients:
        address = reply_address(recipient)
        if address is None or not domain or address.domain != domain:
            continue
        row = (
            await session.execute(threads.select().where(EmailThread.token == address.token))
        ).scalar_one_or_none()
        if row is not None:
            return await conversations.get(row.conversation_id)
    ids = list(email.thread_ids)
    if not ids:
        return None
    messages = MessageRepository(session, tenant.id)
    found = (
        await session.execute(
            messages.select()
            .where(
                Message.channel == CHANNEL,
                or_(Message.provider_id.in_(ids), Message.external_id.in_(ids)),
            )
            .order_by(Message.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return await conversations.get(found.conversation_id) if found is not None else None


async def join(
    session: AsyncSession, tenant: TenantContext, conversation: Conversation, sender: str
) -> None:
    """Make an unknown sender an identity of the thread's contact."""
    identities = IdentityRepository(session, tenant.id)
    if await identities.find(CHANNEL, sender) is not None:
        return
    identities.add(
        ChannelIdentity(contact_id=conversation.contact_id, channel=CHANNEL, external_id=sender)
    )
    await session.flush()


async def remember(
    session: AsyncSession,
    tenant: TenantContext,
    connection: Connection,
    conversation_id: uuid.UUID,
    email: IncomingEmail,
) -> EmailThread:
    """Keep the thread's subject and Message-ID chain up to date with ``email``; the first
    email of a conversation gets its reply address and fills the contact's address."""
    threads = EmailThreads(session, tenant.id)
    # Two first emails of a conversation may arrive at once: one thread row, then a lock.
    created = await session.execute(
        insert_or_skip(session, EmailThread, "tenant_id", "conversation_id")
        .values(
            id=new_id(),
            created_at=utcnow(),
            updated_at=utcnow(),
            tenant_id=tenant.id,
            conversation_id=conversation_id,
            token=secrets.token_hex(12),
            account=connection.account_id,
            subject="",
            references=[],
        )
        .returning(EmailThread.id)
    )
    if created.scalar_one_or_none() is not None:
        conversation = await ConversationRepository(session, tenant.id).get(conversation_id)
        if conversation is not None:
            await _fill_email(session, tenant, conversation.contact_id, email.sender)
    row = (
        await session.execute(
            threads.select()
            .where(EmailThread.conversation_id == conversation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if email.subject:
        row.subject = email.subject
    row.references = chain(row.references, [*email.references, email.message_id])
    await session.flush()
    return row


def chain(current: Sequence[object], more: Sequence[str]) -> list[str]:
    """A thread's Message-IDs with ``more`` added at the end, each once, the last ``MAX_IDS``."""
    ids = [i for i in current if isinstance(i, str)]
    for value in more:
        if value and not value.startswith("sha256:"):
            if value in ids:
                ids.remove(value)
            ids.append(value)
    return ids[-MAX_IDS:]


async def thread_of(
    session: AsyncSession, tenant: TenantContext, conversation_id: uuid.UUID
) -> EmailThread | None:
    threads = EmailThreads(session, tenant.id)
    return (
        await session.execute(
            threads.select().where(EmailThread.conversation_id == conversation_id)
        )
    ).scalar_one_or_none()


async def _fill_email(
    session: AsyncSession, tenant: TenantContext, contact_id: uuid.UUID, sender: str
) -> None:
    contact = await ContactRepository(session, tenant.id).get(contact_id)
    if contact is not None and not contact.email:
        await ContactProfiles(session, tenant.id).update(contact_id, email=sender)

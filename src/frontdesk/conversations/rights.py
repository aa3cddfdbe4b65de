"""Data subjects' rights over what a tenant holds about one contact (Colombia's Ley 1581 de
2012, "habeas data"; GDPR articles 15, 17 and 20 alike): find the person, export everything
held about them, erase it.

Every read and delete goes through the tenant's repositories: a contact of another tenant is
simply not found (404), whatever its id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, false, func, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import ChannelIdentity, Contact, Conversation, Lead, Message
from frontdesk.conversations.repository import (
    ContactRepository,
    ConversationRepository,
    IdentityRepository,
    LeadRepository,
    MessageRepository,
)
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.service import OutboxRepository
from frontdesk.errors import Invalid, NotFound
from frontdesk.security.audit import record
from frontdesk.store.base import utcnow
from frontdesk.store.repository import TenantRepository
from frontdesk.tenancy.context import TenantContext

EXPORT_FORMAT = "frontdesk.contact-export"
EXPORT_VERSION = 1
FIND_LIMIT = 100
MIN_PHONE_SUFFIX = 7
"""A phone number matches one stored with a country code in front once it has this many digits."""
_PHONE_PUNCTUATION = " -().+/"


class ContactNotFound(NotFound):
    title = "Contact not found"
    type_slug = "contact-not-found"


class NoCriteria(Invalid):
    title = "No search criteria"
    type_slug = "no-search-criteria"


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """Rows removed by an erasure (ids and counts only: nothing about the person)."""

    contact_id: uuid.UUID
    messages: int
    identities: int
    conversations: int
    leads: int
    contacts: int
    jobs: int

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "contact_id": str(self.contact_id),
            "messages": self.messages,
            "identities": self.identities,
            "conversations": self.conversations,
            "leads": self.leads,
            "contacts": self.contacts,
            "jobs": self.jobs,
        }


async def find_contacts(
    session: AsyncSession,
    tenant: TenantContext,
    *,
    email: str | None = None,
    phone: str | None = None,
    channel_id: str | None = None,
) -> Sequence[Contact]:
    """The tenant's contacts matching any of what a person would tell a support agent.

    ``email`` matches regardless of case; ``phone`` ignores spaces and punctuation, and one
    given without its country code still finds the number stored with it; ``channel_id`` is the
    id a channel knows them by (a WhatsApp number, a web visitor id, the tenant's own user id).
    Any match is returned, since one person is often several contacts across channels.
    """
    contacts = ContactRepository(session, tenant.id)
    conditions: list[ColumnElement[bool]] = []
    if email and email.strip():
        conditions.append(func.lower(Contact.email) == email.strip().lower())
    if phone and phone.strip():
        conditions.append(_phone_matches(phone))
    if channel_id and channel_id.strip():
        value = channel_id.strip()
        identities = IdentityRepository(session, tenant.id)
        owners = (
            identities.select()
            .where(ChannelIdentity.external_id.in_([value, f"user:{value}"]))
            .with_only_columns(ChannelIdentity.contact_id)
        )
        conditions.append(Contact.id.in_(owners))
    if not conditions:
        raise NoCriteria("give an email, a phone number or a channel id to search by")
    query = contacts.select().where(or_(*conditions)).order_by(Contact.created_at)
    return (await session.execute(query.limit(FIND_LIMIT))).scalars().all()


def _phone_matches(phone: str) -> ColumnElement[bool]:
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return false()
    stored: ColumnElement[Any] = Contact.phone.expression
    for mark in _PHONE_PUNCTUATION:
        stored = func.replace(stored, mark, "")
    if len(digits) < MIN_PHONE_SUFFIX:
        return stored == digits
    return or_(
        stored == digits,
        stored.like(f"%{digits}"),
        (func.length(stored) >= MIN_PHONE_SUFFIX) & literal(digits).like(literal("%") + stored),
    )


async def _contact(session: AsyncSession, tenant: TenantContext, contact_id: uuid.UUID) -> Contact:
    contact = await ContactRepository(session, tenant.id).get(contact_id)
    if contact is None:
        raise ContactNotFound(f"no contact {contact_id}")
    return contact


async def export_contact(
    session: AsyncSession,
    tenant: TenantContext,
    contact_id: uuid.UUID,
    *,
    actor: str | None = None,
) -> dict[str, Any]:
    """Everything the tenant holds about one contact, as JSON-able data: the contact, its
    channel identities, its conversations with every message, and its leads.

    With ``actor`` the export is recorded in the audit log (``contact.exported``, ids only).
    """
    contact = await _contact(session, tenant, contact_id)
    identities = IdentityRepository(session, tenant.id)
    conversations = ConversationRepository(session, tenant.id)
    messages = MessageRepository(session, tenant.id)
    leads = LeadRepository(session, tenant.id)

    identity_rows = (
        await session.execute(
            identities.select()
            .where(ChannelIdentity.contact_id == contact.id)
            .order_by(ChannelIdentity.created_at, ChannelIdentity.id)
        )
    ).scalars()
    conversation_rows = (
        await session.execute(
            conversations.select()
            .where(Conversation.contact_id == contact.id)
            .order_by(Conversation.created_at, Conversation.id)
        )
    ).scalars()
    threads = []
    message_count = 0
    for conversation in conversation_rows.all():
        rows = (
            await session.execute(
                messages.select()
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.seq)
            )
        ).scalars()
        items = [_message(row) for row in rows]
        message_count += len(items)
        threads.append({**_conversation(conversation), "messages": items})
    lead_rows = (
        await session.execute(
            leads.select().where(Lead.contact_id == contact.id).order_by(Lead.created_at, Lead.id)
        )
    ).scalars()
    if actor is not None:
        record(
            session,
            tenant.id,
            actor=actor,
            action="contact.exported",
            target=str(contact.id),
            data={"conversations": len(threads), "messages": message_count},
        )
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": utcnow().isoformat(),
        "tenant": {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name},
        "contact": {
            "id": str(contact.id),
            "display_name": contact.display_name,
            "email": contact.email,
            "phone": contact.phone,
            "locale": contact.locale,
            "created_at": contact.created_at.isoformat(),
            "updated_at": contact.updated_at.isoformat(),
        },
        "identities": [
            {
                "id": str(row.id),
                "channel": row.channel,
                "external_id": row.external_id,
                "verified": row.verified,
                "created_at": row.created_at.isoformat(),
            }
            for row in identity_rows
        ],
        "conversations": threads,
        "leads": [
            {
                "id": str(row.id),
                "conversation_id": str(row.conversation_id) if row.conversation_id else None,
                "score": row.score,
                "stage": row.stage,
                "service_ids": list(row.service_ids),
                "data": dict(row.data),
                "created_at": row.created_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
            }
            for row in lead_rows
        ],
    }


def _conversation(row: Conversation) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "channel": row.channel,
        "status": row.status,
        "language": row.language,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _message(row: Message) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "seq": row.seq,
        "direction": row.direction,
        "channel": row.channel,
        "sender": row.sender,
        "text": row.text,
        "payload": dict(row.payload),
        "status": row.status,
        "external_id": row.external_id,
        "created_at": row.created_at.isoformat(),
    }


async def erase_contact(
    session: AsyncSession, tenant: TenantContext, contact_id: uuid.UUID, *, actor: str
) -> ErasureReport:
    """Delete the contact and everything held about it: messages, conversations, channel
    identities, leads, and the unfinished jobs that would act on them. Audited as
    ``contact.erased`` with ids and counts only."""
    contact = await _contact(session, tenant, contact_id)
    conversations = ConversationRepository(session, tenant.id)
    messages = MessageRepository(session, tenant.id)
    thread_ids = list(
        (
            await session.execute(
                conversations.select()
                .where(Conversation.contact_id == contact.id)
                .with_only_columns(Conversation.id)
            )
        ).scalars()
    )
    message_ids = list(
        (
            await session.execute(
                messages.select()
                .where(Message.conversation_id.in_(thread_ids))
                .with_only_columns(Message.id)
            )
        ).scalars()
    )
    jobs = await drop_jobs(session, tenant.id, thread_ids, message_ids)
    message_count = await _delete(messages, Message.conversation_id.in_(thread_ids))
    leads = await _delete(LeadRepository(session, tenant.id), Lead.contact_id == contact.id)
    threads = await _delete(conversations, Conversation.contact_id == contact.id)
    identities = await _delete(
        IdentityRepository(session, tenant.id), ChannelIdentity.contact_id == contact.id
    )
    contacts = await _delete(ContactRepository(session, tenant.id), Contact.id == contact.id)
    session.expunge(contact)
    report = ErasureReport(
        contact_id=contact_id,
        messages=message_count,
        identities=identities,
        conversations=threads,
        leads=leads,
        contacts=contacts,
        jobs=jobs,
    )
    counts = report.as_dict()
    counts.pop("contact_id")
    record(
        session,
        tenant.id,
        actor=actor,
        action="contact.erased",
        target=str(contact_id),
        data=counts,
    )
    return report


async def _delete(repo: TenantRepository[Any], condition: ColumnElement[bool]) -> int:
    """Delete the repository's rows matching ``condition``, inside its tenant; how many."""
    model = repo.model
    result = await repo.session.execute(
        delete(model)
        .where(model.tenant_id == repo.tenant_id, condition)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def drop_jobs(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    conversation_ids: Collection[uuid.UUID],
    message_ids: Collection[uuid.UUID],
) -> int:
    """Delete the tenant's unfinished jobs (pending, running or dead) about these conversations
    or messages: once the rows are gone such a job could only fail, over and over."""
    if not conversation_ids and not message_ids:
        return 0
    wanted = {str(value) for value in (*conversation_ids, *message_ids)}
    jobs = OutboxRepository(session, tenant_id)
    rows = (
        await session.execute(
            jobs.select()
            .where(OutboxJob.status != "done")
            .with_only_columns(OutboxJob.id, OutboxJob.payload)
        )
    ).all()
    doomed = [
        job_id
        for job_id, payload in rows
        if wanted.intersection(
            str(payload.get(name)) for name in ("conversation_id", "message_id") if name in payload
        )
    ]
    if not doomed:
        return 0
    return await _delete(jobs, OutboxJob.id.in_(doomed))

"""Contacts, conversations and messages: storing what arrives and what the engine answers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.models import ChannelIdentity, Contact, Conversation, Message
from frontdesk.conversations.repository import (
    TAKEN,
    ContactProfiles,
    ContactRepository,
    ConversationRef,
    ConversationRepository,
    IdentityRepository,
    MessageRepository,
    Sender,
)
from frontdesk.conversations.schemas import MessageOut
from frontdesk.delivery import webhooks
from frontdesk.delivery.service import enqueue
from frontdesk.engine.reply import Reply
from frontdesk.errors import Conflict, Invalid, NotFound
from frontdesk.ids import new_id
from frontdesk.store.base import utcnow
from frontdesk.store.db import on_commit
from frontdesk.tenancy.context import TenantContext

WEBCHAT = "webchat"
DECIDE_JOB = "engine.decide"
SEND_JOB = "delivery.send"  # delivery.tasks.SEND_JOB


class ConversationNotFound(NotFound):
    title = "Conversation not found"
    type_slug = "conversation-not-found"


class ConversationClosed(Conflict):
    title = "Conversation closed"
    type_slug = "conversation-closed"


@dataclass(frozen=True, slots=True)
class VerifiedUser:
    id: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class WebStart:
    contact: Contact
    conversation: Conversation
    resumed: bool


@dataclass(frozen=True, slots=True)
class Received:
    message: Message
    duplicate: bool


async def start_web_conversation(
    session: AsyncSession,
    tenant: TenantContext,
    *,
    contact_id: uuid.UUID | None,
    locale: str | None = None,
    user: VerifiedUser | None = None,
) -> WebStart:
    """Resume the visitor's open web conversation, or start a visitor and a conversation.

    A verified ``user`` is one contact on every device: found by the tenant's own user id.
    """
    contacts = ContactRepository(session, tenant.id)
    conversations = ConversationRepository(session, tenant.id)
    identities = IdentityRepository(session, tenant.id)
    contact = None
    if user is not None:
        identity = await identities.find(WEBCHAT, f"user:{user.id}")
        contact = await contacts.get(identity.contact_id) if identity else None
        if contact is None:
            contact = contacts.add(Contact(locale=locale))
            await session.flush()
            identities.add(
                ChannelIdentity(
                    contact_id=contact.id,
                    channel=WEBCHAT,
                    external_id=f"user:{user.id}",
                    verified=True,
                )
            )
        contact.display_name = user.name or contact.display_name
        contact.email = user.email or contact.email
    elif contact_id is not None:
        contact = await contacts.get(contact_id)
    if contact is not None:
        open_one = await conversations.open_for(contact.id, WEBCHAT)
        if open_one is not None:
            return WebStart(contact=contact, conversation=open_one, resumed=True)
    else:
        contact = contacts.add(Contact(locale=locale))
        await session.flush()
        identities.add(
            ChannelIdentity(contact_id=contact.id, channel=WEBCHAT, external_id=str(contact.id))
        )
    conversation = conversations.add(
        Conversation(contact_id=contact.id, channel=WEBCHAT, language=_language(locale))
    )
    await session.flush()
    return WebStart(contact=contact, conversation=conversation, resumed=False)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str | None = None
    email: str | None = None
    phone: str | None = None


async def thread_for_identity(
    session: AsyncSession,
    tenant: TenantContext,
    *,
    channel: str,
    external_id: str,
    message_id: str,
    profile: Profile = Profile(),
) -> ConversationRef | Message:
    """Where a message ``message_id`` from ``external_id`` on ``channel`` goes: the message
    itself when it is stored already (a provider's retry), else the sender's open conversation
    (a contact and a conversation are created the first time).

    A returning sender costs one ``SELECT``: identity, contact, open conversation and the
    duplicate check together.
    """
    known = await IdentityRepository(session, tenant.id).sender(
        channel, external_id, message_id=message_id
    )
    if known is None or known.stored is not None:
        stored = await find_message(session, tenant, channel=channel, external_id=message_id)
        if stored is not None:
            return stored
    return await conversation_of(session, tenant, known, channel, external_id, profile)


async def conversation_for_identity(
    session: AsyncSession,
    tenant: TenantContext,
    *,
    channel: str,
    external_id: str,
    profile: Profile = Profile(),
) -> ConversationRef:
    """The open conversation of whoever ``external_id`` is on ``channel`` (a contact and a
    conversation are created the first time): how every non-web channel finds its thread."""
    known = await IdentityRepository(session, tenant.id).sender(channel, external_id)
    return await conversation_of(session, tenant, known, channel, external_id, profile)


async def conversation_of(
    session: AsyncSession,
    tenant: TenantContext,
    known: Sender | None,
    channel: str,
    external_id: str,
    profile: Profile,
) -> ConversationRef:
    """The open conversation of a sender already looked up (``known``, None when new): the
    contact and its identity are made the first time, a changed profile is written, and a
    conversation is opened when none is."""
    if known is None:
        known = await _new_sender(session, tenant, channel, external_id, profile)
    else:
        changed = {
            column: value
            for column, value, current in (
                ("display_name", profile.name, known.name),
                ("email", profile.email, known.email),
                ("phone", profile.phone, known.phone),
            )
            if value and value != current
        }
        if changed:
            await ContactProfiles(session, tenant.id).update(known.contact_id, **changed)
    if known.conversation is not None:
        return known.conversation
    return await ConversationRepository(session, tenant.id).create(known.contact_id, channel)


async def _new_sender(
    session: AsyncSession, tenant: TenantContext, channel: str, external_id: str, profile: Profile
) -> Sender:
    """A contact and its identity; concurrent first messages of one sender make one contact."""
    contacts = ContactProfiles(session, tenant.id)
    identities = IdentityRepository(session, tenant.id)
    contact_id = await contacts.create(name=profile.name, email=profile.email, phone=profile.phone)
    if await identities.claim(contact_id, channel, external_id):
        return Sender(
            contact_id=contact_id,
            name=profile.name,
            email=profile.email,
            phone=profile.phone,
            conversation=None,
            stored=None,
        )
    # A concurrent first message of the same sender recorded the identity (and committed it,
    # with its contact and conversation): this one joins them.
    await contacts.remove(contact_id)
    known = await identities.sender(channel, external_id)
    if known is None:
        raise Conflict("the sender's identity changed while the message was stored; retry")
    return known


async def get_conversation(
    session: AsyncSession,
    tenant: TenantContext,
    conversation_id: uuid.UUID,
    *,
    contact_id: uuid.UUID | None = None,
) -> Conversation:
    """The conversation, inside this tenant (and of this contact when given), or 404."""
    conversation = await ConversationRepository(session, tenant.id).get(conversation_id)
    if conversation is None or (contact_id is not None and conversation.contact_id != contact_id):
        raise ConversationNotFound(f"no conversation {conversation_id}")
    return conversation


async def list_conversations(
    session: AsyncSession, tenant: TenantContext, *, limit: int = 50
) -> Sequence[Conversation]:
    return await ConversationRepository(session, tenant.id).recent(limit)


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[Conversation]
    next_cursor: str | None


class BadCursor(Invalid):
    title = "Invalid cursor"
    type_slug = "invalid-cursor"


async def page_conversations(
    session: AsyncSession,
    tenant: TenantContext,
    *,
    channel: str | None = None,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """A page of the tenant's conversations; ``cursor`` continues where the last page ended."""
    before = _decode_cursor(cursor) if cursor else None
    rows = await ConversationRepository(session, tenant.id).page(
        channel=channel, status=status, before=before, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    next_cursor = (
        f"{int(last.updated_at.timestamp() * 1_000_000)}.{last.id.hex}" if more and last else None
    )
    return Page(rows=rows, next_cursor=next_cursor)


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        micros, _, hex_id = cursor.partition(".")
        moment = datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC)
        return moment, uuid.UUID(hex=hex_id)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadCursor("the cursor is not one this API returned") from exc


async def receive(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation | ConversationRef,
    *,
    text: str,
    external_id: str | None,
    events: ConversationEvents,
    sender: str = "visitor",
    payload: dict[str, Any] | None = None,
) -> Received:
    """Store an inbound message and queue the decision on it, in the caller's transaction.

    ``external_id`` (a provider message id or a client's idempotency key) makes a retry
    return the message already stored instead of a second one, concurrent retries included.
    The seq reservation, the message (``ON CONFLICT DO NOTHING`` on its external id) and its
    decide job are written with Core statements, no unit-of-work flush: one round trip on
    PostgreSQL (``MessageRepository.store``).
    """
    messages = MessageRepository(session, tenant.id)
    if conversation.status == "closed":
        existing = (
            await messages.by_external_id(conversation.channel, external_id)
            if external_id is not None
            else None
        )
        if existing is not None:
            return Received(message=existing, duplicate=True)
        raise ConversationClosed("the conversation is closed; start a new one")
    columns: dict[str, Any] = {
        "id": new_id(),
        "created_at": utcnow(),
        "direction": "in",
        "channel": conversation.channel,
        "sender": sender,
        "text": text,
        "payload": payload or {},
        "status": "received",
        "external_id": external_id,
    }
    job = {
        "kind": DECIDE_JOB,
        "payload": {"conversation_id": str(conversation.id), "message_id": str(columns["id"])},
        "key": f"decide:{columns['id']}",
    }
    seq = await messages.store(conversation.id, columns, job=job)
    if seq is None:
        # A concurrent retry of the same message stored it first.
        existing = await messages.by_external_id(conversation.channel, external_id or "")
        if existing is None:
            raise Conflict("the message could not be stored; retry")
        return Received(message=existing, duplicate=True)
    columns.update(conversation_id=conversation.id, seq=seq)
    wakeup = session.info.get("wakeup")
    if wakeup is not None:
        on_commit(session, wakeup)
    # Built, not loaded: the caller reads it, nothing refreshes it from the store.
    message = Message(tenant_id=tenant.id, **columns)
    await webhooks.message_created(session, tenant, message)
    out = MessageOut.model_construct(**{name: columns[name] for name in _OUT})
    on_commit(session, lambda: events.message(tenant.id, out))
    return Received(message=message, duplicate=False)


_OUT = tuple(MessageOut.model_fields)


async def append_reply(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    reply: Reply,
    *,
    in_reply_to: Message,
    events: ConversationEvents,
    deliver: bool,
) -> Message | None:
    """Store the engine's reply; None when a person took the conversation (or it was closed)
    while the engine thought.

    The caller makes sure ``in_reply_to`` is not answered yet (``engine.decide`` does, in the
    same transaction). The reply's key (``reply:<message id>``) is unique, so if a concurrent
    run answers it first this transaction fails, and nothing of a second decision is kept.

    With ``deliver`` the reply's delivery job is written in the same transaction; without it
    (channels whose clients read the store, like web chat) the stored reply is the delivery,
    announced to open streams once committed. Two statements: the number reserved (which
    locks the conversation's row, reads its status under the lock and writes what the engine
    changed on the conversation, its state and score, and the reply's language unless the
    conversation is taken) and the reply's ``INSERT``.
    """
    conversations = ConversationRepository(session, tenant.id)
    # The reply's own columns are written only if the engine still has the conversation.
    own = (
        {"language": reply.language}
        if reply.language and conversation.language != reply.language
        else {}
    )
    # The status read must be the one others set, not this turn's own: it stays pending, and
    # the statement's own columns are never taken from the object.
    changes = _pending_columns(conversation, keep=("status", "last_seq", "updated_at", *own))
    with session.no_autoflush:
        seq, status = await conversations.reserve_reply(
            conversation.id,
            changes={column: value for column, (_, value) in changes.items()},
            unless_taken=own,
        )
    for key, value in changes.values():
        set_committed_value(conversation, key, value)
    if status in TAKEN:
        await conversations.release_seq(conversation.id)
        # The person's (or the closing) status wins over anything this turn set.
        set_committed_value(conversation, "status", status)
        return None
    for key, value in own.items():
        set_committed_value(conversation, key, value)
    if reply.handoff:
        conversation.status = "handoff"
    return await append_outbound(
        session,
        tenant,
        conversation,
        sender="assistant",
        text=reply.text,
        payload=reply.to_dict(),
        external_id=f"reply:{in_reply_to.id}",
        events=events,
        deliver=deliver,
        seq=seq,
    )


def _pending_columns(row: Any, *, keep: Sequence[str] = ()) -> dict[str, tuple[str, Any]]:
    """Column name → (attribute, new value) of what changed on ``row`` and is not flushed yet,
    but the attributes in ``keep``."""
    state = inspect(row)
    changed: dict[str, tuple[str, Any]] = {}
    for attribute in state.mapper.column_attrs:
        if attribute.key in keep:
            continue
        history = state.attrs[attribute.key].history
        if history.added:
            changed[attribute.columns[0].name] = (attribute.key, history.added[0])
    return changed


async def append_outbound(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    *,
    sender: str,
    text: str,
    payload: dict[str, Any],
    external_id: str | None,
    events: ConversationEvents,
    deliver: bool,
    seq: int | None = None,
) -> Message:
    """Store an outbound message on the conversation's channel (the engine's reply, a person's
    answer): with ``deliver`` its ``delivery.send`` job is written in the same transaction,
    without it the stored message is the delivery, announced to open streams once committed.
    ``seq`` is a number this transaction already reserved (one is reserved otherwise).

    The message is written with a Core ``INSERT`` (its unique key taken fails it, as a flush
    would) and built, not loaded; other pending changes of the session are left to its next
    flush."""
    if seq is None:
        seq = await ConversationRepository(session, tenant.id).next_seq(conversation.id)
    columns: dict[str, Any] = {
        "id": new_id(),
        "created_at": utcnow(),
        "conversation_id": conversation.id,
        "seq": seq,
        "direction": "out",
        "channel": conversation.channel,
        "sender": sender,
        "text": text,
        "payload": payload,
        "status": "queued" if deliver else "sent",
        "external_id": external_id,
    }
    await MessageRepository(session, tenant.id).insert(columns)
    message = Message(tenant_id=tenant.id, **columns)
    await webhooks.message_created(session, tenant, message)
    if deliver:
        await enqueue(
            session,
            tenant.id,
            kind=SEND_JOB,
            payload={"message_id": str(message.id), "channel": conversation.channel},
            key=f"send:{message.id}",
            fresh=True,
        )
    else:
        out = MessageOut.model_construct(**{name: columns[name] for name in _OUT})
        on_commit(session, lambda: events.message(tenant.id, out))
    return message


async def store_payload(session: AsyncSession, tenant: TenantContext, message: Message) -> None:
    """Write the keys of ``message``'s payload that changed since it was loaded (the engine's
    intent on a customer message) with a Core ``UPDATE`` instead of a flush, key by key: a
    reaction stored on the message meanwhile is kept."""
    history = inspect(message).attrs.payload.history
    if not history.added:
        return
    payload = history.added[0]
    loaded = history.deleted[0] if history.deleted else {}
    changes = {
        key: value for key, value in payload.items() if key not in loaded or loaded[key] != value
    }
    await MessageRepository(session, tenant.id).set_payload_keys(message.id, changes)
    set_committed_value(message, "payload", payload)


async def history(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    *,
    after_seq: int = 0,
    limit: int = 100,
) -> Sequence[Message]:
    return await MessageRepository(session, tenant.id).after(conversation.id, after_seq, limit)


async def recent_messages(
    session: AsyncSession, tenant: TenantContext, conversation_id: uuid.UUID, *, limit: int
) -> Sequence[Message]:
    return await MessageRepository(session, tenant.id).last(conversation_id, limit)


async def find_message(
    session: AsyncSession, tenant: TenantContext, *, channel: str, external_id: str
) -> Message | None:
    """The message a provider or client already delivered under ``external_id``, if any."""
    return await MessageRepository(session, tenant.id).by_external_id(channel, external_id)


async def get_message(
    session: AsyncSession, tenant: TenantContext, message_id: uuid.UUID
) -> Message:
    message = await MessageRepository(session, tenant.id).get(message_id)
    if message is None:
        raise NotFound(f"no message {message_id}")
    return message


def _language(locale: str | None) -> str | None:
    if not locale:
        return None
    lang = locale[:2].lower()
    return lang if lang in {"es", "en"} else None

"""Queries on contacts, identities, conversations and messages, always inside one tenant."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Insert,
    Integer,
    Select,
    String,
    Table,
    Update,
    Uuid,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import ChannelIdentity, Contact, Conversation, Lead, Message
from frontdesk.delivery.models import OutboxJob
from frontdesk.ids import new_id
from frontdesk.store.base import UTCDateTime, utcnow
from frontdesk.store.repository import TenantRepository


def _table(model: type[Any]) -> Table:
    """The model's table, for Core statements (no ORM bookkeeping on the hot path)."""
    table: Table = model.__table__
    return table


def insert_or_skip(session: AsyncSession, model: type[Any], *unique: str) -> Insert:
    """``INSERT … ON CONFLICT (unique) DO NOTHING`` in the session's dialect: a row that a
    concurrent transaction stored first is skipped, without a savepoint."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(_table(model)).on_conflict_do_nothing(index_elements=unique)
    return sqlite.insert(_table(model)).on_conflict_do_nothing(index_elements=unique)


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """A conversation as the inbound path needs it (read, not loaded as an ORM object)."""

    id: uuid.UUID
    channel: str
    status: str
    contact_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Sender:
    """What one look-up knows of whoever writes on a channel: the contact, its profile, its
    open conversation, and the message already stored under the provider's id, if any."""

    contact_id: uuid.UUID
    name: str | None
    email: str | None
    phone: str | None
    conversation: ConversationRef | None
    stored: uuid.UUID | None


def _sender_query() -> Select[*tuple[Any, ...]]:
    """Identity → contact → the open conversation on the channel, and the message stored under
    ``message_id``: built once, run with bound values (building it costs more than running it)."""
    tenant = bindparam("tenant_id", type_=Uuid())
    channel = bindparam("channel", type_=String())
    open_conversation = (
        select(Conversation.id)
        .where(
            Conversation.tenant_id == tenant,
            Conversation.contact_id == ChannelIdentity.contact_id,
            Conversation.channel == channel,
            Conversation.status != "closed",
        )
        .order_by(Conversation.updated_at.desc())
        .limit(1)
        .correlate(ChannelIdentity)
        .scalar_subquery()
    )
    stored = (
        select(Message.id)
        .where(
            Message.tenant_id == tenant,
            Message.channel == channel,
            Message.external_id == bindparam("message_id", type_=String()),
        )
        .scalar_subquery()
    )
    return (
        select(
            ChannelIdentity.contact_id,
            Contact.display_name,
            Contact.email,
            Contact.phone,
            stored.label("stored"),
            Conversation.id,
            Conversation.channel,
            Conversation.status,
        )
        .select_from(ChannelIdentity)
        .join(Contact, and_(Contact.tenant_id == tenant, Contact.id == ChannelIdentity.contact_id))
        .outerjoin(
            Conversation,
            and_(Conversation.tenant_id == tenant, Conversation.id == open_conversation),
        )
        .where(
            ChannelIdentity.tenant_id == tenant,
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == bindparam("external_id", type_=String()),
        )
    )


_SENDER = _sender_query()
_NEXT_SEQ = (
    update(_table(Conversation))
    .where(
        _table(Conversation).c.tenant_id == bindparam("b_tenant_id", type_=Uuid()),
        _table(Conversation).c.id == bindparam("b_conversation_id", type_=Uuid()),
    )
    .values(last_seq=_table(Conversation).c.last_seq + 1, updated_at=bindparam("b_now"))
    .returning(_table(Conversation).c.last_seq)
)
_RESERVE_REPLY = _NEXT_SEQ.returning(_table(Conversation).c.status)
_RESERVES: dict[tuple[tuple[str, ...], tuple[str, ...]], Update] = {}
"""``_RESERVE_REPLY`` writing more columns, per (columns always written, columns written
unless the conversation is taken), built on first use."""
TAKEN = ("handoff", "closed")
"""A conversation's statuses in which the engine does not answer: a person has it, or it ended."""
_INSERT_JOB = insert(_table(OutboxJob))
_INSERT_OUTBOUND = insert(_table(Message))
_SET_PAYLOAD_KEYS: dict[tuple[str, tuple[str, ...]], Update] = {}
"""The ``UPDATE`` writing some keys of a message's payload, per dialect and set of keys, built
on first use."""


def _set_payload_keys(dialect: str, keys: tuple[str, ...]) -> Update:
    """``payload`` with ``keys`` written in the database itself (JSONB ``||`` on PostgreSQL,
    ``json_set`` elsewhere): what another transaction wrote to its other keys stays."""
    statement = _SET_PAYLOAD_KEYS.get((dialect, keys))
    if statement is not None:
        return statement
    messages = _table(Message)
    if dialect == "postgresql":
        value: Any = messages.c.payload.op("||")(bindparam("b_patch", type_=postgresql.JSONB()))
    else:
        paths: list[Any] = []
        for index, key in enumerate(keys):
            path = "$." + '"' + key.replace('"', '""') + '"'
            paths += [path, func.json(bindparam(f"b_{index}", type_=JSON()))]
        value = func.json_set(messages.c.payload, *paths)
    statement = (
        update(messages)
        .where(
            messages.c.tenant_id == bindparam("b_tenant_id", type_=Uuid()),
            messages.c.id == bindparam("b_id", type_=Uuid()),
        )
        .values(payload=value)
    )
    _SET_PAYLOAD_KEYS[(dialect, keys)] = statement
    return statement


_LAST = (
    select(Message)
    .where(
        Message.tenant_id == bindparam("tenant_id", type_=Uuid()),
        Message.conversation_id == bindparam("conversation_id", type_=Uuid()),
    )
    .order_by(Message.seq.desc())
    .limit(bindparam("limit", type_=Integer()))
)
_INSERT_MESSAGE: dict[str, Insert] = {}
"""The message ``INSERT … ON CONFLICT DO NOTHING``, per dialect, built on first use."""


def _store_query() -> Select[int]:
    """PostgreSQL: the seq reservation, the message (skipped when its external id is stored
    already) and its outbox job in one statement, data-modifying CTEs; answers the message's
    seq, or no row for a duplicate (whose reservation the caller gives back)."""
    conversations, messages, jobs = _table(Conversation), _table(Message), _table(OutboxJob)
    tenant, now = bindparam("b_tenant", type_=Uuid()), bindparam("b_now", type_=UTCDateTime())
    conversation = bindparam("b_conversation", type_=Uuid())

    def text(name: str) -> Any:
        return bindparam(name, type_=String())

    seq = (
        update(conversations)
        .where(conversations.c.tenant_id == tenant, conversations.c.id == conversation)
        .values(last_seq=conversations.c.last_seq + 1, updated_at=now)
        .returning(conversations.c.last_seq)
        .cte("seq")
    )
    message = (
        postgresql.insert(messages)
        .from_select(
            [*_MESSAGE_COLUMNS[:4], "seq", *_MESSAGE_COLUMNS[4:]],
            select(
                bindparam("m_id", type_=Uuid()),
                tenant,
                now,
                conversation,
                seq.c.last_seq,
                *(text(f"m_{name}") for name in ("direction", "channel", "sender", "text")),
                bindparam("m_payload", type_=messages.c.payload.type),
                text("m_status"),
                text("m_external_id"),
            ).select_from(seq),
            include_defaults=False,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "channel", "external_id"])
        .returning(messages.c.seq)
        .cte("message")
    )
    job = (
        insert(jobs)
        .from_select(
            [*_JOB_COLUMNS],
            select(
                bindparam("j_id", type_=Uuid()),
                tenant,
                now,
                now,
                now,
                text("j_kind"),
                bindparam("j_payload", type_=jobs.c.payload.type),
                text("j_status"),
                bindparam("j_attempts", type_=Integer()),
                bindparam("j_max_attempts", type_=Integer()),
                text("j_key"),
            ).select_from(message),
            include_defaults=False,
        )
        .cte("job")
    )
    return select(message.c.seq).add_cte(job)


_MESSAGE_COLUMNS = (
    "id",
    "tenant_id",
    "created_at",
    "conversation_id",
    "direction",
    "channel",
    "sender",
    "text",
    "payload",
    "status",
    "external_id",
)
_JOB_COLUMNS = (
    "id",
    "tenant_id",
    "created_at",
    "updated_at",
    "run_at",
    "kind",
    "payload",
    "status",
    "attempts",
    "max_attempts",
    "idempotency_key",
)
_STORE = _store_query()
DEFAULT_MAX_ATTEMPTS: int = getattr(_table(OutboxJob).c.max_attempts.default, "arg", 8)
"""An outbox job's attempts unless its kind says otherwise (the column's default)."""


class ContactRepository(TenantRepository[Contact]):
    model = Contact


class IdentityRepository(TenantRepository[ChannelIdentity]):
    model = ChannelIdentity

    async def find(self, channel: str, external_id: str) -> ChannelIdentity | None:
        result = await self.session.execute(
            self.select().where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        )
        return result.scalar_one_or_none()

    async def sender(
        self, channel: str, external_id: str, *, message_id: str | None = None
    ) -> Sender | None:
        """The identity, its contact and open conversation, and whether ``message_id`` is
        stored already, in one round trip; None when the identity is unknown."""
        values = {
            "tenant_id": self.tenant_id,
            "channel": channel,
            "external_id": external_id,
            "message_id": message_id,
        }
        row = (await self.session.execute(_SENDER, values)).first()
        if row is None:
            return None
        contact_id, name, email, phone, stored, conversation_id, channel_now, status = row
        return Sender(
            contact_id=contact_id,
            name=name,
            email=email,
            phone=phone,
            stored=stored,
            conversation=(
                ConversationRef(conversation_id, channel_now, status, contact_id)
                if conversation_id is not None
                else None
            ),
        )

    async def claim(self, contact_id: uuid.UUID, channel: str, external_id: str) -> bool:
        """Record ``external_id`` on ``channel`` as ``contact_id``'s; False when a concurrent
        transaction recorded it first (it is then committed, and readable)."""
        inserted = await self.session.execute(
            insert_or_skip(self.session, ChannelIdentity, "tenant_id", "channel", "external_id")
            .values(
                tenant_id=self.tenant_id,
                contact_id=contact_id,
                channel=channel,
                external_id=external_id,
                verified=True,
            )
            .returning(_table(ChannelIdentity).c.id)
        )
        return inserted.first() is not None


class ContactProfiles(TenantRepository[Contact]):
    """Contacts written without loading them (the inbound hot path)."""

    model = Contact

    async def create(self, *, name: str | None, email: str | None, phone: str | None) -> uuid.UUID:
        contact_id = new_id()
        await self.session.execute(
            insert(_table(Contact)).values(
                id=contact_id,
                tenant_id=self.tenant_id,
                display_name=name,
                email=email,
                phone=phone,
            )
        )
        return contact_id

    async def update(self, contact_id: uuid.UUID, **values: str | None) -> None:
        await self.session.execute(
            update(Contact)
            .where(Contact.tenant_id == self.tenant_id, Contact.id == contact_id)
            .values(**values, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    async def remove(self, contact_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(Contact)
            .where(Contact.tenant_id == self.tenant_id, Contact.id == contact_id)
            .execution_options(synchronize_session=False)
        )


class ConversationRepository(TenantRepository[Conversation]):
    model = Conversation

    async def open_for(self, contact_id: uuid.UUID, channel: str) -> Conversation | None:
        result = await self.session.execute(
            self.select()
            .where(
                Conversation.contact_id == contact_id,
                Conversation.channel == channel,
                Conversation.status != "closed",
            )
            .order_by(Conversation.updated_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def recent(self, limit: int) -> Sequence[Conversation]:
        result = await self.session.execute(
            self.select().order_by(Conversation.updated_at.desc()).limit(limit)
        )
        return result.scalars().all()

    async def page(
        self,
        *,
        channel: str | None,
        status: str | None,
        before: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[Conversation]:
        """Most recently active first; ``before`` is the keyset of the last row already seen."""
        query = self.select()
        if channel is not None:
            query = query.where(Conversation.channel == channel)
        if status is not None:
            query = query.where(Conversation.status == status)
        if before is not None:
            query = query.where(
                or_(
                    Conversation.updated_at < before[0],
                    and_(Conversation.updated_at == before[0], Conversation.id < before[1]),
                )
            )
        query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
        return (await self.session.execute(query)).scalars().all()

    async def next_seq(self, conversation_id: uuid.UUID) -> int:
        """Reserve the next message number; the row lock serialises writers of one conversation."""
        result = await self.session.execute(
            _NEXT_SEQ,
            {
                "b_tenant_id": self.tenant_id,
                "b_conversation_id": conversation_id,
                "b_now": utcnow(),
            },
        )
        return int(result.scalar_one())

    async def reserve_reply(
        self,
        conversation_id: uuid.UUID,
        *,
        changes: Mapping[str, Any] | None = None,
        unless_taken: Mapping[str, Any] | None = None,
    ) -> tuple[int, str]:
        """Reserve the next message number and read the conversation's status in one statement:
        the reservation's row lock is held to commit, so nobody can take or close the
        conversation between this read and the message stored. ``changes`` (other columns'
        new values) are written by the same statement, and so are ``unless_taken`` where the
        status read is not one of ``TAKEN`` (the reply's own columns)."""
        changes, unless_taken = changes or {}, unless_taken or {}
        values = {f"c_{name}": value for name, value in (*changes.items(), *unless_taken.items())}
        result = await self.session.execute(
            _reserve(tuple(changes), tuple(unless_taken)),
            {
                "b_tenant_id": self.tenant_id,
                "b_conversation_id": conversation_id,
                "b_now": utcnow(),
                **values,
            },
        )
        seq, status = result.one()
        return int(seq), str(status)

    async def create(self, contact_id: uuid.UUID, channel: str) -> ConversationRef:
        """A new open conversation, with a Core ``INSERT``."""
        conversation_id = new_id()
        await self.session.execute(
            insert(_table(Conversation)).values(
                id=conversation_id, tenant_id=self.tenant_id, contact_id=contact_id, channel=channel
            )
        )
        return ConversationRef(conversation_id, channel, "open", contact_id)

    async def release_seq(self, conversation_id: uuid.UUID) -> None:
        """Give back the number just reserved (this transaction holds the row lock since the
        reservation, so it is still the last one)."""
        await self.session.execute(
            update(Conversation)
            .where(Conversation.tenant_id == self.tenant_id, Conversation.id == conversation_id)
            .values(last_seq=Conversation.last_seq - 1)
            .execution_options(synchronize_session=False)
        )


def _reserve(always: tuple[str, ...], unless_taken: tuple[str, ...]) -> Update:
    """``_RESERVE_REPLY`` also writing the columns named (values bound as ``c_<column>``)."""
    statement = _RESERVES.get((always, unless_taken))
    if statement is None:
        table = _table(Conversation)

        def value(name: str) -> Any:
            return bindparam(f"c_{name}", type_=table.c[name].type)

        taken = table.c.status.in_(TAKEN)
        statement = _RESERVE_REPLY.values(
            {
                **{name: value(name) for name in always},
                **{name: case((taken, table.c[name]), else_=value(name)) for name in unless_taken},
            }
        )
        _RESERVES[(always, unless_taken)] = statement
    return statement


class MessageRepository(TenantRepository[Message]):
    model = Message

    async def by_external_id(self, channel: str, external_id: str) -> Message | None:
        result = await self.session.execute(
            self.select().where(Message.channel == channel, Message.external_id == external_id)
        )
        return result.scalar_one_or_none()

    async def after(
        self, conversation_id: uuid.UUID, after_seq: int, limit: int
    ) -> Sequence[Message]:
        result = await self.session.execute(
            self.select()
            .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
            .order_by(Message.seq)
            .limit(limit)
        )
        return result.scalars().all()

    async def last(self, conversation_id: uuid.UUID, limit: int) -> Sequence[Message]:
        result = await self.session.execute(
            _LAST,
            {"tenant_id": self.tenant_id, "conversation_id": conversation_id, "limit": limit},
        )
        return list(reversed(result.scalars().all()))

    async def insert(self, message: dict[str, Any]) -> None:
        """Store a message (Core, and the session's pending changes not flushed first):
        ``message`` holds every column but ``tenant_id``. A taken unique key (a reply's) fails
        the statement."""
        with self.session.no_autoflush:
            await self.session.execute(_INSERT_OUTBOUND, {**message, "tenant_id": self.tenant_id})

    async def set_payload_keys(self, message_id: uuid.UUID, changes: Mapping[str, Any]) -> None:
        """Write ``changes`` into a message's payload, key by key, in the database (Core, and
        the session's pending changes not flushed first): what another transaction wrote to the
        payload's other keys meanwhile — the engine's intent, a reaction — is kept."""
        if not changes:
            return
        keys = tuple(changes)
        dialect = self.session.get_bind().dialect.name
        values: dict[str, Any] = {"b_tenant_id": self.tenant_id, "b_id": message_id}
        if dialect == "postgresql":
            values["b_patch"] = dict(changes)
        else:
            values.update({f"b_{index}": changes[key] for index, key in enumerate(keys)})
        with self.session.no_autoflush:
            await self.session.execute(_set_payload_keys(dialect, keys), values)

    async def store(
        self, conversation_id: uuid.UUID, message: dict[str, Any], *, job: dict[str, Any]
    ) -> int | None:
        """Reserve the message's number in its conversation, store it (Core, ``ON CONFLICT DO
        NOTHING`` on its external id: no savepoint) and its outbox ``job``; one statement on
        PostgreSQL, three elsewhere. Answers its seq, or None when a message with its external
        id is stored already (a concurrent retry got there first): nothing is written then.

        ``message`` holds the columns of ``_MESSAGE_COLUMNS`` but ``tenant_id``; ``job`` the
        outbox job's ``kind``, ``payload`` and ``key``.
        """
        conversations = ConversationRepository(self.session, self.tenant_id)
        seq: int | None
        if self.session.get_bind().dialect.name == "postgresql":
            values = {f"m_{name}": value for name, value in message.items()}
            values.update(
                b_tenant=self.tenant_id,
                b_now=message["created_at"],
                b_conversation=conversation_id,
                j_id=new_id(),
                j_kind=job["kind"],
                j_payload=job["payload"],
                j_status="pending",
                j_attempts=0,
                j_max_attempts=DEFAULT_MAX_ATTEMPTS,
                j_key=job["key"],
            )
            seq = (await self.session.execute(_STORE, values)).scalar_one_or_none()
        else:
            seq = await conversations.next_seq(conversation_id)
            row = {"tenant_id": self.tenant_id, "conversation_id": conversation_id, "seq": seq}
            if await self._insert({**message, **row}):
                await self.session.execute(
                    _INSERT_JOB,
                    {
                        "tenant_id": self.tenant_id,
                        "kind": job["kind"],
                        "payload": job["payload"],
                        "idempotency_key": job["key"],
                    },
                )
            else:
                seq = None
        if seq is None:
            # This transaction holds the conversation's row lock since the reservation, so the
            # number is still the last one: give it back.
            await conversations.release_seq(conversation_id)
        return seq

    async def _insert(self, values: dict[str, Any]) -> bool:
        dialect = self.session.get_bind().dialect.name
        statement = _INSERT_MESSAGE.get(dialect)
        if statement is None:
            statement = insert_or_skip(
                self.session, Message, "tenant_id", "channel", "external_id"
            ).returning(_table(Message).c.id)
            _INSERT_MESSAGE[dialect] = statement
        inserted = await self.session.execute(statement, values)
        return inserted.first() is not None


class LeadRepository(TenantRepository[Lead]):
    model = Lead

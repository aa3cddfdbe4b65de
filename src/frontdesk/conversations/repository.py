"""Queries on contacts, identities, conversations and messages, always inside one tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, update

from frontdesk.conversations.models import ChannelIdentity, Contact, Conversation, Lead, Message
from frontdesk.store.repository import TenantRepository


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
            update(Conversation)
            .where(Conversation.tenant_id == self.tenant_id, Conversation.id == conversation_id)
            .values(last_seq=Conversation.last_seq + 1)
            .returning(Conversation.last_seq)
            .execution_options(synchronize_session=False)
        )
        return int(result.scalar_one())


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
            self.select()
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.seq.desc())
            .limit(limit)
        )
        return list(reversed(result.scalars().all()))


class LeadRepository(TenantRepository[Lead]):
    model = Lead

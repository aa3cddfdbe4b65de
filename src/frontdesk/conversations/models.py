"""One contact across channels; conversations with ordered messages; leads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.store.base import Base, TenantMixin, utcnow


class Contact(TenantMixin, Base):
    __tablename__ = "contacts"

    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChannelIdentity(TenantMixin, Base):
    """How a contact is known on one channel (a web visitor id, a WhatsApp number, …)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("tenant_id", "channel", "external_id"),)

    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    verified: Mapped[bool] = mapped_column(default=False)


class Conversation(TenantMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index(None, "tenant_id", "updated_at"),
        Index(None, "tenant_id", "contact_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    last_seq: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    engine_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the engine remembers of the conversation (``engine.state.EngineState``)."""
    score: Mapped[float] = mapped_column(default=0.0)
    """The purchase-intention score, 0–1 (``engine.scoring``)."""
    stage: Mapped[str] = mapped_column(String(16), default="browsing")


class Message(TenantMixin, Base):
    """A message in a conversation; ``seq`` orders it and is the event id streams resume from."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("tenant_id", "channel", "external_id"),
        Index(None, "tenant_id", "channel", "provider_id"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    direction: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(32))
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    provider_id: Mapped[str | None] = mapped_column(String(255), default=None)
    """The provider's id of an outbound message once sent (its status events name it)."""


class Lead(TenantMixin, Base):
    __tablename__ = "leads"
    __table_args__ = (Index(None, "tenant_id", "contact_id"), Index(None, "tenant_id", "score"))

    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None
    )
    score: Mapped[float] = mapped_column(default=0.0)
    stage: Mapped[str] = mapped_column(String(32), default="new")
    service_ids: Mapped[list[Any]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""A tenant's connections to providers' channels, and the one-time codes that carry a
conversation from one channel to another."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.store.base import Base, TenantMixin, utcnow


class ChannelConnection(TenantMixin, Base):
    """One provider account of a tenant (a WhatsApp phone number, a Messenger page, …).

    ``account_id`` is the provider's id of the account (WhatsApp's phone-number id): unique
    per kind across tenants, since the provider's webhooks name the tenant only by it.
    ``credentials`` is a JSON object sealed with the instance key; ``verify_token_hash`` lets
    the subscription handshake find the connection without opening every seal."""

    __tablename__ = "channel_connections"
    __table_args__ = (UniqueConstraint("kind", "account_id"),)

    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64), default=None)
    credentials: Mapped[str] = mapped_column(String(4000))
    verify_token_hash: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TransferCode(TenantMixin, Base):
    """A one-time, expiring code that moves ``conversation_id`` to ``channel`` when it comes
    back on that channel; only its hash is stored."""

    __tablename__ = "transfer_codes"
    __table_args__ = (UniqueConstraint("tenant_id", "code_hash"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)

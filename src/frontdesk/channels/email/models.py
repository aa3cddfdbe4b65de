"""What the email channel remembers: each conversation's thread (its reply address, subject
and Message-ID chain), and where each polled mailbox was left."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.store.base import Base, TenantMixin, utcnow


class EmailThread(TenantMixin, Base):
    """The email thread of a conversation.

    ``token`` names the conversation's reply address (``reply+<token>@reply_domain``): unique
    across tenants, since an incoming message names the tenant only by its recipient.
    ``references`` holds the last Message-IDs of the thread (the customer's and ours), which
    our replies carry in ``References``; ``account`` is the connection's address the thread
    belongs to."""

    __tablename__ = "email_threads"
    __table_args__ = (UniqueConstraint("tenant_id", "conversation_id"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    token: Mapped[str] = mapped_column(String(32), unique=True)
    account: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255), default="")
    references: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EmailMailbox(TenantMixin, Base):
    """How far an IMAP mailbox of a connection has been read: messages with a UID above
    ``last_uid`` are new while the mailbox keeps its ``uidvalidity`` (when the server changes
    it, every UID is new again and Message-IDs keep the old ones from being stored twice)."""

    __tablename__ = "email_mailboxes"
    __table_args__ = (UniqueConstraint("connection_id", "mailbox"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channel_connections.id", ondelete="CASCADE")
    )
    mailbox: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    polled_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)

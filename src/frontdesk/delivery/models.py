"""Outbox jobs: written in the same transaction as the data they act on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.store.base import Base, TenantMixin, utcnow


class OutboxJob(TenantMixin, Base):
    __tablename__ = "outbox_jobs"
    __table_args__ = (
        Index(None, "status", "run_at"),
        UniqueConstraint("tenant_id", "idempotency_key"),
    )

    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEndpointRow(TenantMixin, Base):
    """A tenant's URL that receives our events (``events``: event types, or ``["*"]``).

    A 410 from the receiver disables it (``disabled_reason`` says why)."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookSecret(TenantMixin, Base):
    """An endpoint's signing secret (``whsec_…``), sealed with the instance key. During a
    rotation several are active; an older one stops at ``expires_at``."""

    __tablename__ = "webhook_secrets"
    __table_args__ = (Index(None, "tenant_id", "endpoint_id"),)

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    sealed: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(default=None)

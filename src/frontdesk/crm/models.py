"""What each lead is in the tenant's CRM: the CRM's ids of its contact, deal and note."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.store.base import Base, TenantMixin, utcnow


class CrmRecord(TenantMixin, Base):
    """One lead in one CRM (``provider``: ``hubspot``). The row is locked while the lead is
    pushed, so two pushes of one lead never both create it; the ids found or made are kept,
    so every later push updates them.

    ``pushed_stage`` is the CRM stage we last set (we move the deal only when our stage
    changes, never undoing what a person did in the CRM); ``crm_stage`` is the stage the CRM
    last told us about."""

    __tablename__ = "crm_records"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", "lead_id"),
        Index(None, "tenant_id", "provider", "deal_ref"),
    )

    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    contact_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    deal_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    note_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    pushed_stage: Mapped[str | None] = mapped_column(String(64), default=None)
    crm_stage: Mapped[str | None] = mapped_column(String(64), default=None)
    pushes: Mapped[int] = mapped_column(default=0)
    pushed_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

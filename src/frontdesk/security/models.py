"""API keys (stored as hashes) and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.ids import new_id
from frontdesk.store.base import Base, IdMixin, TenantMixin


class ApiKey(TenantMixin, Base):
    """A tenant's API key. Rotation issues a new key in the same ``family_id``, so quotas
    (keyed by family) survive it and the old key keeps working until its ``expires_at``."""

    __tablename__ = "api_keys"

    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str | None] = mapped_column(String(100), default=None)
    family_id: Mapped[uuid.UUID] = mapped_column(default=new_id)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(TenantMixin, Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "tenant_id", "created_at"),)

    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)


class SigningKey(IdMixin, Base):
    """An instance key that signs tokens (ES256). ``active`` signs; ``verifying`` keys only
    verify until retired, so a rotation never invalidates tokens already issued."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="active")
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class RevokedToken(TenantMixin, Base):
    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class TenantSecret(TenantMixin, Base):
    """A shared secret of a tenant, sealed with the instance key: ``purpose`` is ``api``
    (signed requests in), ``webhook`` (our webhooks out) or ``identity`` (visitor proofs).
    During a rotation several are active; an expiring one stops at ``expires_at``."""

    __tablename__ = "tenant_secrets"
    __table_args__ = (Index(None, "tenant_id", "purpose"),)

    purpose: Mapped[str] = mapped_column(String(16))
    sealed: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(default=None)

"""The audit log: who did what to which object, from which request and address, written in the
caller's transaction (append-only: nothing updates or deletes an event)."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.models import AuditEvent


def record(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    request = structlog.contextvars.get_contextvars()
    session.add(
        AuditEvent(
            tenant_id=tenant_id,
            actor=actor,
            action=action,
            target=target,
            data=data or {},
            request_id=request.get("request_id"),
            ip=request.get("client_ip"),
        )
    )

"""The audit log: who did what to which object, from which request and address, written in the
caller's transaction (append-only: nothing updates or deletes an event)."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.observability.logging import request_context
from frontdesk.security.models import AuditEvent
from frontdesk.store.db import detached
from frontdesk.store.scope import bind_tenant


def record(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    bind_tenant(session, tenant_id)
    request = request_context()
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


def record_detached(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """``record`` in a transaction of its own, kept even when the request's is rolled back."""
    request = request_context()

    async def write(own: AsyncSession) -> None:
        with structlog.contextvars.bound_contextvars(**request):
            record(own, tenant_id, actor=actor, action=action, target=target, data=data)

    detached(session, write)

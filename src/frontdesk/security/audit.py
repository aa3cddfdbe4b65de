"""The audit log: who did what to which object, written in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

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
    session.add(
        AuditEvent(tenant_id=tenant_id, actor=actor, action=action, target=target, data=data or {})
    )

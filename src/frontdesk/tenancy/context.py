"""``TenantContext``: the immutable view of one tenant that every service is handed."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from frontdesk.engine.packs import ContextPack
from frontdesk.tenancy.schemas import TenantSettings


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """One of the tenant's webhook endpoints (``delivery.endpoints``); secrets stay in the store."""

    id: uuid.UUID
    url: str
    events: tuple[str, ...]
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class TenantContext:
    id: uuid.UUID
    slug: str
    name: str
    status: str
    settings: TenantSettings
    pack: ContextPack | None
    tokens_not_before: datetime | None = None
    webhooks: tuple[WebhookEndpoint, ...] = ()

    @property
    def active(self) -> bool:
        return self.status == "active"


current_tenant: ContextVar[str | None] = ContextVar("current_tenant", default=None)
"""The slug of the tenant in hand, for logs only: services get the context as an argument."""

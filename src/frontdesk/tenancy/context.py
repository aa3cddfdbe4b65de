"""``TenantContext``: the immutable view of one tenant that every service is handed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from frontdesk.engine.packs import ContextPack
from frontdesk.tenancy.schemas import TenantSettings


@dataclass(frozen=True, slots=True)
class Connection:
    """One of the tenant's channel connections (``channels.connections``), credentials sealed."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    account_id: str
    status: str
    sealed: str = field(repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status == "active"


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
    channels: tuple[Connection, ...] = ()
    webhooks: tuple[WebhookEndpoint, ...] = ()

    def channel(self, kind: str) -> Connection | None:
        """The tenant's active connection of ``kind``, if any."""
        return next((c for c in self.channels if c.kind == kind and c.active), None)

    @property
    def active(self) -> bool:
        return self.status == "active"


current_tenant: ContextVar[str | None] = ContextVar("current_tenant", default=None)
"""The slug of the tenant in hand, for logs only: services get the context as an argument."""

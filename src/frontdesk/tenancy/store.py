"""The Tenant Context Store: tenant slug or id → immutable ``TenantContext``.

A hit is a dictionary lookup; a miss reads the database through the caller's session (never a
second one: the embedded SQLite has one connection) or, without one, a short session of its
own. Entries live ``ttl`` seconds and are dropped at once when the tenant changes, on every
instance (invalidation bus).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.connections import tenant_connections, tenant_of_account
from frontdesk.delivery.endpoints import tenant_endpoints
from frontdesk.store.db import Database
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.models import Tenant
from frontdesk.tenancy.repository import TenantTable
from frontdesk.tenancy.service import TenantNotFound, to_context

MISSING_TTL = 5.0
MAX_MISSING = 10_000


class TenantContextStore:
    def __init__(
        self, db: Database, *, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._by_slug: dict[str, tuple[float, TenantContext]] = {}
        self._slug_of: dict[uuid.UUID, str] = {}
        self._by_account: dict[tuple[str, str], str] = {}
        self._missing: dict[tuple[str, str], float] = {}

    async def by_slug(self, slug: str, *, session: AsyncSession | None = None) -> TenantContext:
        hit = self._by_slug.get(slug)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return await self._load(lambda table: table.by_slug(slug), slug, session)

    async def by_id(
        self, tenant_id: uuid.UUID, *, session: AsyncSession | None = None
    ) -> TenantContext:
        slug = self._slug_of.get(tenant_id)
        if slug is not None:
            hit = self._by_slug.get(slug)
            if hit is not None and hit[0] > self._clock():
                return hit[1]
        return await self._load(lambda table: table.by_id(tenant_id), str(tenant_id), session)

    async def _load(
        self,
        find: Callable[[TenantTable], Awaitable[Tenant | None]],
        name: str,
        session: AsyncSession | None,
    ) -> TenantContext:
        if session is None:
            async with self._db.session() as own:
                return await self._load(find, name, own)
        tenant = await find(TenantTable(session))
        if tenant is None:
            raise TenantNotFound(f"no tenant '{name}'")
        channels = await tenant_connections(session, tenant.id)
        webhooks = await tenant_endpoints(session, tenant.id)
        return self._keep(replace(to_context(tenant), channels=channels, webhooks=webhooks))

    async def by_channel_account(
        self, kind: str, account_id: str, *, session: AsyncSession | None = None
    ) -> TenantContext | None:
        """The tenant a provider account (a WhatsApp phone-number id, …) is connected to."""
        slug = self._by_account.get((kind, account_id))
        if slug is not None:
            context = await self.by_slug(slug, session=session)
            if any(c.kind == kind and c.account_id == account_id for c in context.channels):
                return context
        missing = self._missing.get((kind, account_id))
        if missing is not None and missing > self._clock():
            return None  # asked again for an account nobody connected: no query each time
        if session is None:
            async with self._db.session() as own:
                return await self.by_channel_account(kind, account_id, session=own)
        tenant_id = await tenant_of_account(session, kind, account_id)
        if tenant_id is None:
            if len(self._missing) >= MAX_MISSING:
                self._missing.clear()
            self._missing[(kind, account_id)] = self._clock() + MISSING_TTL
            return None
        return await self.by_id(tenant_id, session=session)

    def invalidate(self, slug: str) -> None:
        """Drop ``slug`` (``*``: everything); the next lookup reads the database. Any change
        may connect an account that was unknown, so those are forgotten too."""
        self._missing.clear()
        if slug == "*":
            self._by_slug.clear()
        else:
            self._by_slug.pop(slug, None)

    def _keep(self, context: TenantContext) -> TenantContext:
        self._by_slug[context.slug] = (self._clock() + self._ttl, context)
        self._slug_of[context.id] = context.slug
        for channel in context.channels:
            self._by_account[(channel.kind, channel.account_id)] = context.slug
        return context

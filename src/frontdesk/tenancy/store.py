"""The Tenant Context Store: tenant slug or id → ``TenantContext``, through an in-process cache."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.repository import TenantTable
from frontdesk.tenancy.service import TenantNotFound, to_context


class TenantContextStore:
    """Caches contexts for ``ttl`` seconds; ``invalidate`` drops one at once after a change."""

    def __init__(self, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._by_slug: dict[str, tuple[float, TenantContext]] = {}
        self._slug_of: dict[uuid.UUID, str] = {}

    async def by_slug(self, session: AsyncSession, slug: str) -> TenantContext:
        hit = self._by_slug.get(slug)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        tenant = await TenantTable(session).by_slug(slug)
        if tenant is None:
            raise TenantNotFound(f"no tenant '{slug}'")
        return self._keep(to_context(tenant))

    async def by_id(self, session: AsyncSession, tenant_id: uuid.UUID) -> TenantContext:
        slug = self._slug_of.get(tenant_id)
        if slug is not None:
            hit = self._by_slug.get(slug)
            if hit is not None and hit[0] > self._clock():
                return hit[1]
        tenant = await TenantTable(session).by_id(tenant_id)
        if tenant is None:
            raise TenantNotFound(f"no tenant '{tenant_id}'")
        return self._keep(to_context(tenant))

    def invalidate(self, slug: str) -> None:
        self._by_slug.pop(slug, None)

    def _keep(self, context: TenantContext) -> TenantContext:
        self._by_slug[context.slug] = (self._clock() + self._ttl, context)
        self._slug_of[context.id] = context.slug
        return context

"""Queries on the tenants table (the one table not scoped by a tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.tenancy.models import Tenant


class TenantTable:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_slug(self, slug: str) -> Tenant | None:
        result = await self.session.execute(select(Tenant).where(Tenant.slug == slug))
        return result.scalar_one_or_none()

    async def by_id(self, id_: uuid.UUID) -> Tenant | None:
        return await self.session.get(Tenant, id_)

    async def all(self) -> Sequence[Tenant]:
        result = await self.session.execute(select(Tenant).order_by(Tenant.created_at))
        return result.scalars().all()

    def add(self, tenant: Tenant) -> Tenant:
        self.session.add(tenant)
        return tenant

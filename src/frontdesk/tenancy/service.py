"""Tenant lifecycle: create, look up, attach a context pack."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.engine.packs import ContextPack
from frontdesk.errors import Conflict, NotFound
from frontdesk.security.audit import record
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.models import Tenant
from frontdesk.tenancy.repository import TenantTable
from frontdesk.tenancy.schemas import TenantCreate, TenantSettings


class TenantNotFound(NotFound):
    title = "Tenant not found"
    type_slug = "tenant-not-found"


class TenantExists(Conflict):
    title = "Tenant exists"
    type_slug = "tenant-exists"


def to_context(tenant: Tenant) -> TenantContext:
    return TenantContext(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        status=tenant.status,
        settings=TenantSettings.model_validate(tenant.settings),
        pack=ContextPack.model_validate(tenant.pack) if tenant.pack else None,
    )


async def create_tenant(
    session: AsyncSession, data: TenantCreate, *, actor: str, pack: ContextPack | None = None
) -> Tenant:
    table = TenantTable(session)
    if await table.by_slug(data.slug) is not None:
        raise TenantExists(f"a tenant with slug '{data.slug}' already exists")
    tenant = table.add(
        Tenant(
            slug=data.slug,
            name=data.name,
            settings=data.settings.model_dump(mode="json"),
            pack=pack.model_dump(mode="json") if pack else None,
        )
    )
    await session.flush()
    record(session, tenant.id, actor=actor, action="tenant.created", target=tenant.slug)
    return tenant


async def get_tenant(session: AsyncSession, slug: str) -> Tenant:
    tenant = await TenantTable(session).by_slug(slug)
    if tenant is None:
        raise TenantNotFound(f"no tenant '{slug}'")
    return tenant


async def list_tenants(session: AsyncSession) -> Sequence[Tenant]:
    return await TenantTable(session).all()


async def set_pack(session: AsyncSession, tenant: Tenant, pack: ContextPack, *, actor: str) -> None:
    """Attach (or replace) the tenant's context pack."""
    tenant.pack = pack.model_dump(mode="json")
    record(
        session,
        tenant.id,
        actor=actor,
        action="tenant.pack_loaded",
        target=tenant.slug,
        data={"pack": pack.id, "version": pack.version},
    )

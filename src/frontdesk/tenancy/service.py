"""Tenant lifecycle: create, look up, attach a context pack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.engine.packs import ContextPack
from frontdesk.errors import Conflict, Invalid, NotFound
from frontdesk.realtime.invalidation import announce
from frontdesk.security.audit import record
from frontdesk.store.base import utcnow
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.models import Tenant
from frontdesk.tenancy.repository import TenantTable
from frontdesk.tenancy.schemas import TenantCreate, TenantSettings

TOPIC = "tenant"


class TenantNotFound(NotFound):
    title = "Tenant not found"
    type_slug = "tenant-not-found"


class InvalidSettings(Invalid):
    title = "Invalid tenant settings"
    type_slug = "invalid-settings"


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
        tokens_not_before=tenant.tokens_not_before,
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
    announce(session, TOPIC, tenant.slug)
    record(
        session,
        tenant.id,
        actor=actor,
        action="tenant.pack_loaded",
        target=tenant.slug,
        data={"pack": pack.id, "version": pack.version},
    )


async def update_settings(
    session: AsyncSession, tenant: Tenant, changes: dict[str, Any], *, actor: str
) -> TenantSettings:
    """Apply ``changes`` to the tenant's settings, validated as a whole; the previous version
    is kept in the audit log."""
    previous = TenantSettings.model_validate(tenant.settings)
    try:
        updated = TenantSettings.model_validate(
            {**previous.model_dump(mode="json"), **changes, "version": previous.version + 1}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidSettings(f"{field}: {first['msg']}") from exc
    tenant.settings = updated.model_dump(mode="json")
    record(
        session,
        tenant.id,
        actor=actor,
        action="tenant.settings_changed",
        target=tenant.slug,
        data={"previous": previous.model_dump(mode="json"), "changed": sorted(changes)},
    )
    announce(session, TOPIC, tenant.slug)
    return updated


async def set_status(
    session: AsyncSession, tenant: Tenant, status: Literal["active", "suspended"], *, actor: str
) -> None:
    """Suspend (every request refused at once, on every instance) or reactivate a tenant."""
    if tenant.status == status:
        return
    tenant.status = status
    action = "tenant.suspended" if status == "suspended" else "tenant.reactivated"
    record(session, tenant.id, actor=actor, action=action, target=tenant.slug)
    announce(session, TOPIC, tenant.slug)


async def revoke_all_tokens(session: AsyncSession, tenant: Tenant, *, actor: str) -> datetime:
    """Refuse every token of the tenant issued before now (its not-before cut-off)."""
    cutoff = utcnow().replace(microsecond=0) + timedelta(seconds=1)
    tenant.tokens_not_before = cutoff
    record(
        session,
        tenant.id,
        actor=actor,
        action="token.cutoff",
        target=tenant.slug,
        data={"not_before": cutoff.isoformat()},
    )
    announce(session, TOPIC, tenant.slug)
    return cutoff

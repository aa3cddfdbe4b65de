"""The owner tenant (Colombiatic): registered with its context pack on first start."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import IntegrityError

from frontdesk.engine.packs import default_pack_dir, load_pack
from frontdesk.security.keys import create_key
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.repository import TenantTable
from frontdesk.tenancy.schemas import TenantCreate
from frontdesk.tenancy.service import create_tenant

log = structlog.get_logger("frontdesk.tenancy")


async def ensure_owner(db: Database, settings: Settings) -> bool:
    """Register the owner tenant, its pack and a publishable key; False if it already exists."""
    async with db.session() as session:
        if await TenantTable(session).by_slug(settings.owner_slug) is not None:
            return False
    pack = load_pack(settings.pack_dir or default_pack_dir())
    try:
        async with db.session() as session:
            tenant = await create_tenant(
                session,
                TenantCreate(slug=settings.owner_slug, name=pack.company.name),
                actor="system",
                pack=pack,
            )
            await create_key(session, tenant.id, kind="publishable", name="web", actor="system")
    except IntegrityError:
        return False
    log.info("tenancy.owner_registered", tenant=settings.owner_slug, pack=pack.id)
    return True

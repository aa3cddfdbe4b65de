"""Tenant deletion: every row a tenant owns, gone in one transaction, and proven gone.

The tables are found from the model metadata (every table with a ``tenant_id`` column), not
listed by hand, so a table added later is counted and checked without touching this module.
Rows go through the foreign keys' ``ON DELETE CASCADE`` from ``tenants``; what remains is then
counted in every tenant table and anything left rolls the whole deletion back.

The deletion is announced on the invalidation log, so every instance drops the tenant (and its
API keys) from its caches at once: its routes answer 404 and its keys 401 from the next request.

Audit: a tenant's audit events are its own rows and are deleted with it, so the deletion is
recorded as the structured log event ``tenancy.deleted`` (logger ``frontdesk.tenancy``, level
warning), emitted once the transaction has committed, with ``tenant_id``, ``slug``, ``actor``,
``counts`` (rows deleted per table) and ``total``, plus the request id when there is one.
Log retention is therefore the retention of that record.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

import frontdesk
from frontdesk.errors import Forbidden, FrontDeskError
from frontdesk.realtime.invalidation import announce
from frontdesk.security.keys import KEY_TOPIC, ApiKeyRepository
from frontdesk.security.models import ApiKey
from frontdesk.store.base import Base
from frontdesk.store.db import on_commit
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.models import Tenant
from frontdesk.tenancy.service import TOPIC

TENANTS = str(Tenant.__tablename__)


class OwnerTenantProtected(Forbidden):
    title = "Owner tenant protected"
    type_slug = "owner-tenant-protected"


class PurgeIncomplete(FrontDeskError):
    status = 500
    title = "Tenant purge incomplete"
    type_slug = "purge-incomplete"


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a tenant deletion removed: rows per table (``tenants`` included)."""

    tenant_id: uuid.UUID
    slug: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Every row deleted, across all tables."""
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "tenant_id": str(self.tenant_id),
            "slug": self.slug,
            "counts": dict(self.counts),
            "total": self.total,
        }


@cache
def _load_models() -> None:
    # Tables join the metadata only when their module is imported: import every ``models``
    # module of the package so none is missed by a caller that never touched it.
    # Packages are walked on disk, not imported, so only the model modules are loaded.
    pending = [(Path(path), "frontdesk") for path in frontdesk.__path__]
    while pending:
        folder, package = pending.pop()
        for module in pkgutil.iter_modules([str(folder)]):
            if module.ispkg:
                pending.append((folder / module.name, f"{package}.{module.name}"))
            elif module.name == "models":
                importlib.import_module(f"{package}.{module.name}")


def tenant_tables() -> Sequence[Table]:
    """Every table that holds rows of a tenant (has ``tenant_id``), by name."""
    _load_models()
    tables = [table for table in Base.metadata.tables.values() if "tenant_id" in table.c]
    return sorted(tables, key=lambda table: table.name)


async def verify_purged(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """Rows of ``tenant_id`` still held, per tenant table and in ``tenants``: all zeros once
    the tenant is deleted. Counted in the system scope, so row-level security hides nothing."""
    counts: dict[str, int] = {}
    async with system_scope(session):
        tenants = await session.execute(
            select(func.count()).select_from(Tenant).where(Tenant.id == tenant_id)
        )
        counts[TENANTS] = int(tenants.scalar_one())
        for table in tenant_tables():
            result = await session.execute(
                select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
            )
            counts[str(table.name)] = int(result.scalar_one())
    return counts


async def delete_tenant(
    session: AsyncSession, tenant_row: Tenant, *, actor: str, owner_slug: str
) -> PurgeReport:
    """Delete the tenant and all of its data in the caller's transaction; refuses the owner.

    Returns the rows deleted per table. Raises ``PurgeIncomplete`` (and so rolls back) if any
    row of the tenant survives the cascade.
    """
    if tenant_row.slug == owner_slug:
        raise OwnerTenantProtected(f"'{tenant_row.slug}' is the owner tenant and cannot be deleted")
    tenant_id, slug = tenant_row.id, tenant_row.slug
    # Rows referencing the tenant lock it (FOR KEY SHARE) while they are written: holding it
    # FOR UPDATE waits for those writers and keeps new ones out, so the counts are exact.
    await session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
    before = await verify_purged(session, tenant_id)
    keys = ApiKeyRepository(session, tenant_id)
    key_hashes = (await session.execute(keys.select().with_only_columns(ApiKey.key_hash))).scalars()
    hashes = list(key_hashes)

    await session.delete(tenant_row)
    await session.flush()

    remaining = await verify_purged(session, tenant_id)
    left = {name: count for name, count in remaining.items() if count}
    if left:
        raise PurgeIncomplete(f"rows of tenant '{slug}' survived the deletion: {left}")

    announce(session, TOPIC, slug)
    for key_hash in hashes:
        announce(session, KEY_TOPIC, key_hash)
    report = PurgeReport(tenant_id=tenant_id, slug=slug, counts=before)

    def logged() -> None:
        # Kept at warning: it is the only record of the deletion, and must survive a log level
        # that drops info.
        structlog.get_logger("frontdesk.tenancy").warning(
            "tenancy.deleted",
            tenant_id=str(tenant_id),
            slug=slug,
            actor=actor,
            counts=report.counts,
            total=report.total,
        )

    on_commit(session, logged)
    return report

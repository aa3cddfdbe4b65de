"""The tenant-scoped repository base: the one place the tenant filter is applied (and, on
PostgreSQL, the tenant bound for row-level security, which holds even if a filter is forgotten)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.store.base import TenantMixin
from frontdesk.store.scope import bind_tenant

M = TypeVar("M", bound=TenantMixin)

_BY_ID: dict[type[Any], Select[Any]] = {}
"""A model's row by id inside one tenant, built once per model and run with bound values
(building a statement costs more than running it)."""


def _by_id(model: type[Any]) -> Select[Any]:
    statement = _BY_ID.get(model)
    if statement is None:
        statement = select(model).where(
            model.tenant_id == bindparam("tenant_id"), model.id == bindparam("id")
        )
        _BY_ID[model] = statement
    return statement


class TenantRepository(Generic[M]):
    """Queries on one model, always inside one tenant."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        bind_tenant(session, tenant_id)

    def select(self) -> Select[M]:
        return select(self.model).where(self.model.tenant_id == self.tenant_id)

    async def get(self, id_: uuid.UUID) -> M | None:
        result = await self.session.execute(
            _by_id(self.model), {"tenant_id": self.tenant_id, "id": id_}
        )
        row: M | None = result.scalar_one_or_none()
        return row

    def add(self, row: M) -> M:
        row.tenant_id = self.tenant_id
        self.session.add(row)
        return row

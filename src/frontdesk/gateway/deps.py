"""Request dependencies: the unit of work, the tenant from the path, the caller's credential."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import Depends, Header, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Forbidden, Unauthorized
from frontdesk.runtime import Runtime
from frontdesk.security.keys import verify_key
from frontdesk.security.tokens import VisitorClaims
from frontdesk.tenancy.context import TenantContext


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


async def _session(rt: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with rt.db.session() as session:
        yield session


Session = Annotated[AsyncSession, Depends(_session, scope="function")]
"""One session per request, committed before the response is sent (so a 2xx means stored)."""


class TenantSuspended(Forbidden):
    title = "Tenant suspended"
    type_slug = "tenant-suspended"


async def _tenant(
    request: Request,
    rt: RuntimeDep,
    session: Session,
    tenant: Annotated[str, Path(min_length=1, max_length=63, pattern=r"^[a-z0-9-]+$")],
) -> TenantContext:
    context = await rt.tenants.by_slug(session, tenant)
    if not context.active:
        raise TenantSuspended(f"tenant '{tenant}' is suspended")
    request.state.tenant = context.slug
    structlog.contextvars.bind_contextvars(tenant=context.slug)
    return context


PathTenant = Annotated[TenantContext, Depends(_tenant)]


async def _publishable(
    session: Session,
    tenant: PathTenant,
    x_frontdesk_key: Annotated[str | None, Header(max_length=100)] = None,
) -> TenantContext:
    if not x_frontdesk_key:
        raise Unauthorized("the X-FrontDesk-Key header with a publishable key is required")
    await verify_key(session, tenant.id, x_frontdesk_key, kind="publishable")
    return tenant


WebClient = Annotated[TenantContext, Depends(_publishable)]


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


async def optional_visitor(
    rt: RuntimeDep,
    tenant: PathTenant,
    authorization: Annotated[str | None, Header(max_length=2100)] = None,
) -> VisitorClaims | None:
    token = _bearer(authorization)
    if token is None:
        return None
    return rt.tokens.verify(token, tenant_id=tenant.id)


async def _visitor(
    rt: RuntimeDep,
    tenant: PathTenant,
    authorization: Annotated[str | None, Header(max_length=2100)] = None,
    token: Annotated[str | None, Query(max_length=2048, description="for EventSource")] = None,
) -> VisitorClaims:
    value = _bearer(authorization) or token
    if not value:
        raise Unauthorized("a visitor token is required (Authorization: Bearer …)")
    return rt.tokens.verify(value, tenant_id=tenant.id)


Visitor = Annotated[VisitorClaims, Depends(_visitor)]
MaybeVisitor = Annotated[VisitorClaims | None, Depends(optional_visitor)]

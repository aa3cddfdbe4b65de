"""The authenticated part of the security pipeline, as request dependencies, in this order:
tenant resolution → authentication (the credential kinds each route accepts) → scope check →
per-tenant rate limit → the immutable ``TenantContext`` handed to the route.

(Request id, body limit, the pre-auth flood limit and CORS run before, in the ASGI middleware.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

import structlog
from fastapi import Depends, Header, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Forbidden, FrontDeskError, Unauthorized
from frontdesk.runtime import Runtime
from frontdesk.security.audit import record_detached
from frontdesk.security.client_ip import ip_bucket
from frontdesk.security.keys import InvalidKey
from frontdesk.security.ratelimit import LimitKey, PlanLimits, plan_limits
from frontdesk.security.tokens import ACCESS, VISITOR, Claims
from frontdesk.tenancy.context import TenantContext


async def runtime(request: Request) -> Runtime:
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


class InsufficientScope(Forbidden):
    title = "Insufficient scope"
    type_slug = "insufficient-scope"


class WrongCredential(Forbidden):
    title = "Wrong kind of credential"
    type_slug = "wrong-credential"


class RateLimited(FrontDeskError):
    status = 429
    title = "Too many requests"
    type_slug = "rate-limited"


def _plan(tenant: TenantContext) -> PlanLimits:
    """The tenant's plan, with its per-tenant overrides applied."""
    return plan_limits(tenant.settings.plan, tenant.settings.rate_limits)


_last_noted: dict[tuple[uuid.UUID, str], float] = {}


def _note_once_a_minute(
    session: AsyncSession, tenant: TenantContext, action: str, data: dict[str, str]
) -> None:
    """Audit a refusal, at most once a minute per tenant and kind: a flood is one event."""
    if _throttled((tenant.id, action + data.get("scope", ""))):
        return
    record_detached(session, tenant.id, actor="anonymous", action=action, data=data)


def _throttled(key: tuple[uuid.UUID, str]) -> bool:
    """True when ``key`` was noted less than a minute ago (then it is not noted again)."""
    now = time.monotonic()
    if _last_noted.get(key, 0.0) > now:
        return True
    if len(_last_noted) > 100_000:
        _last_noted.clear()
    _last_noted[key] = now + 60
    return False


def _auth_failed(
    session: AsyncSession, tenant: TenantContext, credential: str, exc: FrontDeskError
) -> None:
    structlog.get_logger("frontdesk.security").info(
        "security.auth_failed", tenant=tenant.slug, credential=credential, reason=exc.detail
    )
    _note_once_a_minute(
        session,
        tenant,
        "security.auth_failed",
        {"scope": credential, "reason": exc.detail[:200]},
    )


async def limit(
    rt: Runtime,
    session: AsyncSession,
    response: Response,
    tenant: TenantContext,
    *,
    scope: Literal["visitor", "key"],
    identity: str,
) -> None:
    """The tenant's limits for one visitor or key family (narrowest first, so a refused
    caller does not use up the tenant's quota), then for the whole tenant."""
    limits = _plan(tenant)
    per_minute = limits.visitor if scope == "visitor" else limits.key
    decision = await rt.limiter.hit(
        LimitKey(scope, f"{tenant.id}:{identity}", per_minute),
        LimitKey("tenant", str(tenant.id), limits.tenant),
    )
    headers = decision.headers()
    if not decision.allowed:
        structlog.get_logger("frontdesk.security").info(
            "security.rate_limited", tenant=tenant.slug, scope=decision.scope
        )
        _note_once_a_minute(
            session, tenant, "security.rate_limited", {"scope": decision.scope or ""}
        )
        raise RateLimited(
            f"the {decision.scope} limit is reached; retry after {decision.retry_after} s",
            headers=headers,
        )
    response.headers.update(headers)


async def _tenant(
    request: Request,
    rt: RuntimeDep,
    session: Session,
    tenant: Annotated[str, Path(min_length=1, max_length=63, pattern=r"^[a-z0-9-]+$")],
) -> TenantContext:
    context = await rt.tenants.by_slug(tenant, session=session)
    return _admit(request, context)


def _admit(request: Request, context: TenantContext) -> TenantContext:
    if not context.active:
        raise TenantSuspended(f"tenant '{context.slug}' is suspended")
    request.state.tenant = context.slug
    structlog.contextvars.bind_contextvars(tenant=context.slug)
    return context


PathTenant = Annotated[TenantContext, Depends(_tenant)]


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def _cross_tenant(session: AsyncSession, tenant: TenantContext, owner: uuid.UUID) -> None:
    """Note in the audit log of the tenant whose credential was used elsewhere (once a minute
    per pair: a publishable key is public, so anyone could otherwise fill that log)."""
    if _throttled((owner, f"security.cross_tenant:{tenant.id}")):
        return
    record_detached(
        session, owner, actor="anonymous", action="security.cross_tenant", target=tenant.slug
    )


async def _publishable(
    rt: RuntimeDep,
    session: Session,
    response: Response,
    request: Request,
    tenant: PathTenant,
    x_frontdesk_key: Annotated[str | None, Header(max_length=100)] = None,
) -> TenantContext:
    if not x_frontdesk_key:
        raise Unauthorized("the X-FrontDesk-Key header with a publishable key is required")
    if x_frontdesk_key.startswith("sk_"):
        raise WrongCredential("a secret key must never be sent from a browser")
    try:
        info = await rt.keys.resolve(session, x_frontdesk_key, kind="publishable")
    except FrontDeskError as exc:
        _auth_failed(session, tenant, "publishable_key", exc)
        raise
    if info.tenant_id != tenant.id:
        _cross_tenant(session, tenant, info.tenant_id)
        raise InvalidKey("the key is not valid for this tenant")
    await limit(
        rt,
        session,
        response,
        tenant,
        scope="visitor",
        identity=f"ip:{ip_bucket(request.state.client_ip)}",
    )
    return tenant


WebClient = Annotated[TenantContext, Depends(_publishable)]


async def _visitor_claims(
    rt: Runtime, session: AsyncSession, tenant: TenantContext, token: str | None
) -> Claims:
    if not token:
        raise Unauthorized("a visitor token is required (Authorization: Bearer …)")
    return await rt.tokens.verify(
        token,
        kind=VISITOR,
        tenant_id=tenant.id,
        not_before=tenant.tokens_not_before,
        session=session,
    )


async def optional_visitor(
    rt: RuntimeDep,
    session: Session,
    tenant: PathTenant,
    authorization: Annotated[str | None, Header(max_length=4200)] = None,
) -> Claims | None:
    token = _bearer(authorization)
    return await _visitor_claims(rt, session, tenant, token) if token else None


async def _visitor(
    rt: RuntimeDep,
    session: Session,
    response: Response,
    tenant: PathTenant,
    authorization: Annotated[str | None, Header(max_length=4200)] = None,
    token: Annotated[str | None, Query(max_length=4096, description="for EventSource")] = None,
) -> Claims:
    try:
        claims = await _visitor_claims(rt, session, tenant, _bearer(authorization) or token)
    except FrontDeskError as exc:
        _auth_failed(session, tenant, "visitor_token", exc)
        raise
    if claims.user_id is None and tenant.settings.identity_verification == "required":
        raise Unauthorized("this site requires a verified user to chat")
    await limit(rt, session, response, tenant, scope="visitor", identity=claims.subject)
    return claims


Visitor = Annotated[Claims, Depends(_visitor)]
MaybeVisitor = Annotated[Claims | None, Depends(optional_visitor)]


@dataclass(frozen=True, slots=True)
class Caller:
    """A tenant's server: who it is, inside which tenant, with which scopes."""

    tenant: TenantContext
    credential: Literal["secret_key", "access_token"]
    subject: str
    scopes: frozenset[str]
    key_family: uuid.UUID | None


async def authenticate_server(
    rt: Runtime, session: AsyncSession, request: Request, credential: str | None
) -> Caller:
    """A secret key or a Tenant Access Token → the caller and its tenant."""
    if not credential:
        raise Unauthorized("a secret key or access token is required (Authorization: Bearer …)")
    if credential.startswith("pk_"):
        raise WrongCredential("a publishable key cannot call server routes")
    if credential.startswith("sk_"):
        info = await rt.keys.resolve(session, credential, kind="secret")
        tenant = await rt.tenants.by_id(info.tenant_id, session=session)
        caller = Caller(tenant, "secret_key", f"key:{info.id}", info.scopes, info.family_id)
    else:
        claims = await rt.tokens.verify(credential, kind=ACCESS, session=session)
        tenant = await rt.tenants.by_id(claims.tenant_id, session=session)
        await rt.tokens.verify(
            credential,
            kind=ACCESS,
            tenant_id=tenant.id,
            not_before=tenant.tokens_not_before,
            session=session,
        )
        caller = Caller(tenant, "access_token", claims.subject, claims.scopes, claims.key_family)
    _admit(request, tenant)
    return caller


async def _server(
    rt: RuntimeDep,
    session: Session,
    request: Request,
    authorization: Annotated[str | None, Header(max_length=4200)] = None,
) -> Caller:
    return await authenticate_server(rt, session, request, _bearer(authorization))


def requires(scope: str) -> Callable[..., Awaitable[Caller]]:
    """The caller, let through only with ``scope`` and within its tenant's and key's limits."""

    async def check(
        rt: RuntimeDep,
        session: Session,
        response: Response,
        caller: Annotated[Caller, Depends(_server)],
    ) -> Caller:
        if scope not in caller.scopes:
            raise InsufficientScope(f"this route requires the '{scope}' scope")
        family = caller.key_family or caller.subject
        await limit(rt, session, response, caller.tenant, scope="key", identity=str(family))
        return caller

    return check

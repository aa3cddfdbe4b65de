"""The authenticated part of the security pipeline, as request dependencies, in this order:
tenant resolution → authentication (the credential kinds each route accepts) → scope check →
per-tenant rate limit → the immutable ``TenantContext`` handed to the route.

(Request id, body limit, the pre-auth flood limit and CORS run before, in the ASGI middleware.)

Each credential flavour is one flat dependency that reads the request itself: a FastAPI
dependency costs ≈ 12 µs per request before it does anything, so chains of small ones would
cost more than the checks. None of them opens a database session on the way: tenants, keys,
signing keys and verified tokens come from in-memory caches, and only a miss reads the database,
through the route's own session when it has opened one (``Session`` files it in the request's
state: the embedded SQLite has one connection, so a second session would wait for ever) or else
through a short one of its own. The rate-limit headers go into the request's state, and the
``Pipeline`` middleware adds them to the response.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Forbidden, FrontDeskError, Unauthorized
from frontdesk.gateway.cors import TENANT_SEEN
from frontdesk.observability.logging import bind_request
from frontdesk.runtime import Runtime
from frontdesk.security.audit import record, record_detached
from frontdesk.security.client_ip import ip_bucket
from frontdesk.security.keys import InvalidKey
from frontdesk.security.ratelimit import Decision, LimitKey, PlanLimits, plan_limits
from frontdesk.security.tokens import ACCESS, VISITOR, Claims, InvalidToken
from frontdesk.tenancy.context import TenantContext

log = structlog.get_logger("frontdesk.security")

SESSION = "frontdesk.session"
"""Where ``Session`` files the route's open session in the request's state."""
TENANT = "frontdesk.tenant"
"""Where the path's tenant is kept once resolved, for the next dependency of the request."""
RESPONSE_HEADERS = "frontdesk.response_headers"
"""Headers for the response (the rate-limit headers), added by the ``Pipeline`` middleware."""
RESOLVED = "frontdesk.resolved"
"""What the request-only dependencies resolved for this request (each runs once per request)."""

_SLUG = re.compile(r"[a-z0-9-]{1,63}")
MAX_AUTHORIZATION = 4200
MAX_KEY_HEADER = 100
MAX_QUERY_TOKEN = 4096

# The credential dependencies read their parameters from the request themselves (a parameter
# FastAPI validates costs ≈ 5 µs each per request), and document them here for the OpenAPI
# schema (``document_parameters``).
_TENANT_PARAMETER = {
    "name": "tenant",
    "in": "path",
    "required": True,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 63,
        "pattern": "^[a-z0-9-]+$",
        "title": "Tenant",
    },
}


def _header_parameter(name: str, max_length: int, description: str = "") -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"anyOf": [{"type": "string", "maxLength": max_length}, {"type": "null"}]},
    }
    if description:
        parameter["description"] = description
    return parameter


_AUTHORIZATION_PARAMETER = _header_parameter("authorization", MAX_AUTHORIZATION)
_KEY_PARAMETER = _header_parameter("x-frontdesk-key", MAX_KEY_HEADER)
_TOKEN_PARAMETER = {
    "name": "token",
    "in": "query",
    "required": False,
    "description": "for EventSource",
    "schema": {"anyOf": [{"type": "string", "maxLength": MAX_QUERY_TOKEN}, {"type": "null"}]},
}
F = TypeVar("F", bound=Callable[..., Any])


def _documents(*parameters: dict[str, Any]) -> Callable[[F], F]:
    """Declare the request parameters a dependency reads by itself, for the OpenAPI schema."""

    def mark(function: F) -> F:
        function.openapi_parameters = parameters  # type: ignore[attr-defined]
        return function

    return mark


def _early(function: F) -> F:
    """Marks a dependency that reads the request and nothing else (its one parameter): the
    route step (``middleware.RouteIndex``) resolves it before the route runs, outside FastAPI's
    dependency solver (``lift``), and it runs once per request however often it is asked for."""

    @functools.wraps(function)
    async def once(request: Request) -> Any:
        state = request.scope.setdefault("state", {})
        resolved = state.get(RESOLVED)
        if resolved is None:
            resolved = state[RESOLVED] = {}
        elif once in resolved:
            return resolved[once]
        value = resolved[once] = await function(request)
        return value

    once.frontdesk_early = True  # type: ignore[attr-defined]
    return once  # type: ignore[return-value]


def _too_long(where: str, name: str, limit: int) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "loc": (where, name),
                "msg": f"String should have at most {limit} characters",
                "type": "string_too_long",
            }
        ]
    )


def _header(request: Request, name: str, limit: int) -> str | None:
    """The first ``name`` header (lower case), as ``request.headers.get`` reads it, without
    building the request's ``Headers``."""
    raw = name.encode("latin-1")
    for key, value in request.scope["headers"]:
        if key == raw:
            if len(value) > limit:
                raise _too_long("header", name, limit)
            text: str = value.decode("latin-1")
            return text
    return None


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.scope["app"].state.runtime
    return rt


async def runtime(request: Request) -> Runtime:
    return _runtime(request)


# Request-only too, but cheaper than remembering it: asked for again rather than kept.
runtime.frontdesk_early = True  # type: ignore[attr-defined]


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def _state(request: Request) -> dict[str, Any]:
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    state = _state(request)
    async with _runtime(request).db.session() as session:
        state[SESSION] = session
        try:
            yield session
        finally:
            state.pop(SESSION, None)


Session = Annotated[AsyncSession, Depends(_session, scope="function")]
"""One session per request, committed before the response is sent (so a 2xx means stored)."""


def open_session(request: Request) -> AsyncSession | None:
    """The route's session if it has opened one (caches read through it on a miss)."""
    session: AsyncSession | None = _state(request).get(SESSION)
    return session


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


_plans: dict[int, tuple[object, PlanLimits]] = {}


def _plan(tenant: TenantContext) -> PlanLimits:
    """The tenant's plan, with its per-tenant overrides applied: validated once per version of
    the tenant's settings (a change makes a new settings object)."""
    settings = tenant.settings
    known = _plans.get(id(settings))
    if known is not None and known[0] is settings:
        return known[1]
    if len(_plans) > 10_000:
        _plans.clear()
    limits = plan_limits(settings.plan, settings.rate_limits)
    _plans[id(settings)] = (settings, limits)
    return limits


_last_noted: dict[tuple[uuid.UUID, str], float] = {}


def _throttled(key: tuple[uuid.UUID, str]) -> bool:
    """True when ``key`` was noted less than a minute ago (then it is not noted again)."""
    now = time.monotonic()
    if _last_noted.get(key, 0.0) > now:
        return True
    if len(_last_noted) > 100_000:
        _last_noted.clear()
    _last_noted[key] = now + 60
    return False


@asynccontextmanager
async def _unit_of_work(rt: Runtime, session: AsyncSession | None) -> AsyncIterator[Any]:
    """Yields ``record`` or ``record_detached`` bound to a session: the route's, detached (kept
    however the route ends), or a short one of this refusal's own."""
    if session is not None:
        yield lambda *args, **kwargs: record_detached(session, *args, **kwargs)
        return
    async with rt.db.session() as own:
        yield lambda *args, **kwargs: record(own, *args, **kwargs)


async def _note(
    rt: Runtime,
    session: AsyncSession | None,
    tenant_id: uuid.UUID,
    action: str,
    *,
    target: str | None = None,
    data: dict[str, str] | None = None,
) -> None:
    """Audit a refusal (as the anonymous actor); a failure to write it is logged, not raised."""
    try:
        async with _unit_of_work(rt, session) as note:
            note(tenant_id, actor="anonymous", action=action, target=target, data=data)
    except Exception:
        log.exception("security.audit_failed", action=action)


async def _note_once_a_minute(
    rt: Runtime,
    session: AsyncSession | None,
    tenant: TenantContext,
    action: str,
    data: dict[str, str],
) -> None:
    """Audit a refusal, at most once a minute per tenant and kind: a flood is one event."""
    if not _throttled((tenant.id, action + data.get("scope", ""))):
        await _note(rt, session, tenant.id, action, data=data)


async def _auth_failed(
    rt: Runtime,
    session: AsyncSession | None,
    tenant: TenantContext,
    credential: str,
    exc: FrontDeskError,
) -> None:
    log.info("security.auth_failed", tenant=tenant.slug, credential=credential, reason=exc.detail)
    await _note_once_a_minute(
        rt,
        session,
        tenant,
        "security.auth_failed",
        {"scope": credential, "reason": exc.detail[:200]},
    )


async def _cross_tenant(
    rt: Runtime, session: AsyncSession | None, tenant: TenantContext, owner: uuid.UUID
) -> None:
    """Note in the audit log of the tenant whose credential was used elsewhere (once a minute
    per pair: a publishable key is public, so anyone could otherwise fill that log)."""
    if not _throttled((owner, f"security.cross_tenant:{tenant.id}")):
        await _note(rt, session, owner, "security.cross_tenant", target=tenant.slug)


_limit_keys: dict[tuple[str, str, object], tuple[object, uuid.UUID, tuple[LimitKey, LimitKey]]] = {}


def _keys(
    tenant: TenantContext, scope: Literal["visitor", "key"], identity: object
) -> tuple[LimitKey, LimitKey]:
    """The quota of one visitor or key family (``identity``, as a string in the key's name),
    and the tenant's: made once each, and again only when the tenant's settings are reloaded
    (its plan or limits may have changed)."""
    known = (scope, tenant.slug, identity)
    entry = _limit_keys.get(known)
    if entry is not None and entry[0] is tenant.settings and entry[1] is tenant.id:
        return entry[2]
    limits = _plan(tenant)
    per_minute = limits.visitor if scope == "visitor" else limits.key
    keys = (
        LimitKey(scope, f"{tenant.id}:{identity}", per_minute),
        LimitKey("tenant", str(tenant.id), limits.tenant),
    )
    if len(_limit_keys) > 100_000:
        _limit_keys.clear()
    _limit_keys[known] = (tenant.settings, tenant.id, keys)
    return keys


async def _hit(
    rt: Runtime,
    session: AsyncSession | None,
    tenant: TenantContext,
    *,
    scope: Literal["visitor", "key"],
    identity: str,
) -> Decision:
    """The tenant's limits for one visitor or key family (narrowest first, so a refused
    caller does not use up the tenant's quota), then for the whole tenant."""
    decision = await rt.limiter.hit(*_keys(tenant, scope, identity))
    if not decision.allowed:
        await _refused(rt, session, tenant, decision)
    return decision


async def _refused(
    rt: Runtime, session: AsyncSession | None, tenant: TenantContext, decision: Decision
) -> NoReturn:
    """Note a refusal by the tenant's limits (once a minute) and raise ``RateLimited``."""
    log.info("security.rate_limited", tenant=tenant.slug, scope=decision.scope)
    await _note_once_a_minute(
        rt, session, tenant, "security.rate_limited", {"scope": decision.scope or ""}
    )
    raise RateLimited(
        f"the {decision.scope} limit is reached; retry after {decision.retry_after} s",
        headers=decision.headers(),
    )


async def limit(
    rt: Runtime,
    session: AsyncSession | None,
    response: Response,
    tenant: TenantContext,
    *,
    scope: Literal["visitor", "key"],
    identity: str,
) -> None:
    """The tenant's limits for one visitor or key family, then for the whole tenant; the
    ``RateLimit-*`` headers are set on ``response`` (429 ``RateLimited`` when refused)."""
    decision = await _hit(rt, session, tenant, scope=scope, identity=identity)
    response.headers.update(decision.headers())


async def charge(
    request: Request,
    tenant: TenantContext,
    *,
    scope: Literal["visitor", "key"],
    identity: str,
) -> None:
    """``limit`` for a route without a ``Response`` parameter: the headers reach the response
    through the ``Pipeline`` middleware."""
    await _charge(_state(request), _runtime(request), tenant, scope, identity)


async def _charge(
    state: dict[str, Any],
    rt: Runtime,
    tenant: TenantContext,
    scope: Literal["visitor", "key"],
    identity: object,
) -> None:
    """``charge``, given the request's state and the runtime."""
    decision = await rt.limiter.hit(*_keys(tenant, scope, identity))
    if not decision.allowed:
        await _refused(rt, state.get(SESSION), tenant, decision)
    state[RESPONSE_HEADERS] = decision.raw_headers()


def _admit(state: dict[str, Any], context: TenantContext) -> TenantContext:
    if not context.active:
        raise TenantSuspended(f"tenant '{context.slug}' is suspended")
    state["tenant"] = context.slug
    state[TENANT] = context
    bind_request(tenant=context.slug)
    return context


async def path_tenant(request: Request) -> TenantContext:
    """The tenant named in the path (``{tenant}``), active; resolved once per request."""
    state = _state(request)
    known: TenantContext | None = state.get(TENANT)
    if known is not None:
        return known
    return await _path_tenant(request, state, _runtime(request))


async def _path_tenant(request: Request, state: dict[str, Any], rt: Runtime) -> TenantContext:
    slug = request.scope.get("path_params", {}).get("tenant", "")
    seen: TenantContext | None = state.get(TENANT_SEEN)
    if seen is not None and seen.slug == slug:
        return _admit(state, seen)  # read by CORS for this request, its slug checked there
    if not _SLUG.fullmatch(slug):
        raise RequestValidationError(
            [{"loc": ("path", "tenant"), "msg": "not a tenant slug", "type": "string_pattern"}]
        )
    context = await rt.tenants.by_slug(slug, session=state.get(SESSION))
    return _admit(state, context)


@_documents(_TENANT_PARAMETER)
@_early
async def _tenant(request: Request) -> TenantContext:
    return await path_tenant(request)


PathTenant = Annotated[TenantContext, Depends(_tenant)]


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


@_documents(_TENANT_PARAMETER, _KEY_PARAMETER)
@_early
async def _publishable(request: Request) -> TenantContext:
    context = await path_tenant(request)
    x_frontdesk_key = _header(request, "x-frontdesk-key", MAX_KEY_HEADER)
    if not x_frontdesk_key:
        raise Unauthorized("the X-FrontDesk-Key header with a publishable key is required")
    if x_frontdesk_key.startswith("sk_"):
        raise WrongCredential("a secret key must never be sent from a browser")
    rt, session = _runtime(request), open_session(request)
    try:
        info = await rt.keys.resolve(session, x_frontdesk_key, kind="publishable")
    except FrontDeskError as exc:
        await _auth_failed(rt, session, context, "publishable_key", exc)
        raise
    if info.tenant_id != context.id:
        await _cross_tenant(rt, session, context, info.tenant_id)
        raise InvalidKey("the key is not valid for this tenant")
    await charge(
        request, context, scope="visitor", identity=f"ip:{ip_bucket(request.state.client_ip)}"
    )
    return context


WebClient = Annotated[TenantContext, Depends(_publishable)]


async def _visitor_claims(
    rt: Runtime, state: dict[str, Any], tenant: TenantContext, token: str | None
) -> Claims:
    if not token:
        raise Unauthorized("a visitor token is required (Authorization: Bearer …)")
    return await rt.tokens.verify(
        token,
        kind=VISITOR,
        tenant_id=tenant.id,
        not_before=tenant.tokens_not_before,
        session=state.get(SESSION),
    )


@_documents(_TENANT_PARAMETER, _AUTHORIZATION_PARAMETER)
@_early
async def optional_visitor(request: Request) -> Claims | None:
    token = _bearer(_header(request, "authorization", MAX_AUTHORIZATION))
    if not token:
        return None
    state, rt = _state(request), _runtime(request)
    context = state.get(TENANT) or await _path_tenant(request, state, rt)
    return await _visitor_claims(rt, state, context, token)


@_documents(_TENANT_PARAMETER, _AUTHORIZATION_PARAMETER, _TOKEN_PARAMETER)
@_early
async def _visitor(request: Request) -> Claims:
    state, rt = _state(request), _runtime(request)
    context = state.get(TENANT) or await _path_tenant(request, state, rt)
    token = _bearer(_header(request, "authorization", MAX_AUTHORIZATION))
    if token is None and request.scope["query_string"]:
        token = request.query_params.get("token")
        if token is not None and len(token) > MAX_QUERY_TOKEN:
            raise _too_long("query", "token", MAX_QUERY_TOKEN)
    try:
        claims = await _visitor_claims(rt, state, context, token)
    except FrontDeskError as exc:
        await _auth_failed(rt, state.get(SESSION), context, "visitor_token", exc)
        raise
    if claims.user_id is None and context.settings.identity_verification == "required":
        raise Unauthorized("this site requires a verified user to chat")
    await _charge(state, rt, context, "visitor", claims.subject)
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
    rt: Runtime, session: AsyncSession | None, request: Request, credential: str | None
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
        if tenant.tokens_not_before is not None and claims.issued_at < tenant.tokens_not_before:
            raise InvalidToken("the token was issued before the tenant's cut-off")
        caller = Caller(tenant, "access_token", claims.subject, claims.scopes, claims.key_family)
    _admit(_state(request), tenant)
    return caller


def requires(scope: str) -> Callable[..., Awaitable[Caller]]:
    """The caller, let through only with ``scope`` and within its tenant's and key's limits."""

    @_documents(_AUTHORIZATION_PARAMETER)
    @_early
    async def check(request: Request) -> Caller:
        state, rt = _state(request), _runtime(request)
        authorization = _header(request, "authorization", MAX_AUTHORIZATION)
        caller = await authenticate_server(rt, state.get(SESSION), request, _bearer(authorization))
        if scope not in caller.scopes:
            raise InsufficientScope(f"this route requires the '{scope}' scope")
        await _charge(state, rt, caller.tenant, "key", caller.key_family or caller.subject)
        return caller

    return check


EarlyDependency = Callable[[Request], Awaitable[Any]]
_REQUEST = "frontdesk_request"


def lift(dependant: Dependant) -> tuple[EarlyDependency, ...]:
    """Takes the route's request-only dependencies (``_early``: the runtime, the tenant, every
    credential flavour) out of FastAPI's dependency solver, which costs ≈ 12 µs per dependency
    before it calls it; returns them, for the route step to resolve before the route runs.

    ``dependant`` is the route's own (the one its handler solves): its early parameters are
    removed, and its endpoint is wrapped to take them from the request (resolved already, or
    resolved there if the route was reached another way). A route whose endpoint is not a
    coroutine function keeps its dependencies as they are. Idempotent.
    """
    call = dependant.call
    known: tuple[EarlyDependency, ...] | None = getattr(call, "frontdesk_lifted", None)
    if known is not None:
        return known
    early: list[tuple[str, EarlyDependency]] = [
        (sub.name, sub.call)
        for sub in dependant.dependencies
        if sub.name is not None
        and sub.call is not None
        and getattr(sub.call, "frontdesk_early", False)
        and not sub.dependencies
    ]
    if not early or call is None or not inspect.iscoroutinefunction(call):
        return ()
    names = {name for name, _ in early}
    dependant.dependencies = [sub for sub in dependant.dependencies if sub.name not in names]
    hidden = dependant.request_param_name is None
    request_name = dependant.request_param_name or _REQUEST
    dependant.request_param_name = request_name
    endpoint = call

    @functools.wraps(endpoint)
    async def with_early(**values: Any) -> Any:
        request = values.pop(request_name) if hidden else values[request_name]
        resolved = request.scope.get("state", {}).get(RESOLVED, {})
        for name, dependency in early:
            value = resolved.get(dependency, resolved)
            values[name] = await dependency(request) if value is resolved else value
        return await endpoint(**values)

    lifted = tuple(dependency for _, dependency in early)
    with_early.frontdesk_lifted = lifted  # type: ignore[attr-defined]
    dependant.call = with_early
    return lifted


def _operations(routes: Sequence[Any], prefix: str = "") -> Iterator[tuple[str, str, Dependant]]:
    """(path, method, dependant) of every API route, included routers' routes too."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from _operations(included.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, APIRoute):
            for method in route.methods or ():
                yield prefix + route.path_format, method.lower(), route.dependant


def _read_by_itself(dependant: Dependant) -> Iterator[dict[str, Any]]:
    for early in getattr(dependant.call, "frontdesk_lifted", ()):
        yield from getattr(early, "openapi_parameters", ())
    for dependency in dependant.dependencies:
        yield from getattr(dependency.call, "openapi_parameters", ())
        yield from _read_by_itself(dependency)


def document_parameters(app: FastAPI) -> None:
    """Add to the app's OpenAPI schema the parameters the dependencies above read by themselves
    (the tenant in the path, the credential headers), as FastAPI would document declared ones."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        paths = schema.get("paths", {})
        for path, method, dependant in _operations(app.router.routes):
            operation = paths.get(path, {}).get(method)
            if operation is None:
                continue
            parameters = operation.setdefault("parameters", [])
            present = {(p.get("name"), p.get("in")) for p in parameters}
            for parameter in _read_by_itself(dependant):
                if (parameter["name"], parameter["in"]) not in present:
                    present.add((parameter["name"], parameter["in"]))
                    parameters.append(dict(parameter))
            if not parameters:
                del operation["parameters"]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

"""The outer pipeline, as one plain ASGI layer and cheap before expensive: request id → body
size limit → pre-auth flood limit per client IP → per-tenant CORS on the browser routes; plus
the access log, metrics and baseline security headers. Then ``RouteIndex`` finds the route.

The pre-auth flood limit counts in this instance's memory whatever limiter the tenants' limits
use: it guards the instance, so it costs no round trip to a shared store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network
from time import perf_counter
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.gateway.cors import TenantCors
from frontdesk.gateway.deps import RESOLVED, RESPONSE_HEADERS, EarlyDependency, lift
from frontdesk.observability.logging import begin_request
from frontdesk.observability.metrics import Metrics, RequestSeries
from frontdesk.security.client_ip import UNKNOWN, client_ip, ip_bucket
from frontdesk.security.cors import Headers, security_headers
from frontdesk.security.ratelimit import LimitKey, RateLimiter
from frontdesk.tenancy.store import TenantContextStore

log = structlog.get_logger("frontdesk.gateway")
REQUEST_ID = b"x-request-id"
_CHILDREN_MAX = 5_000


def _problem_body(status: int, title: str, detail: str, slug: str, request_id: str) -> bytes:
    return orjson.dumps(
        {
            "type": f"/problems/{slug}",
            "title": title,
            "status": status,
            "detail": detail,
            "request_id": request_id,
        }
    )


class _RandomIds:
    """Random 16-hex-digit request ids, drawn from the OS 512 at a time (one system call per
    request cost more than the rest of the id) and cut up at once; drawn afresh in a forked
    child."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        os.register_at_fork(after_in_child=self._ids.clear)

    def next(self) -> str:
        ids = self._ids
        if not ids:
            pool = os.urandom(4096).hex()
            ids += [pool[at : at + 16] for at in range(0, len(pool), 16)]
        return ids.pop()


_random_ids = _RandomIds()


def _request_id(headers: dict[bytes, bytes]) -> str:
    incoming = headers.get(REQUEST_ID)
    if incoming is not None and 8 <= len(incoming) <= 64:
        text = incoming.decode("latin-1")
        if text.isprintable():
            return text
    return _random_ids.next()


class Pipeline:
    """Gives every request an id, bounds its body, limits floods, applies the tenant's CORS on
    browser routes, and logs and counts the request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body: int,
        tenants: TenantContextStore,
        trusted_proxies: Sequence[IPv4Network | IPv6Network] = (),
        flood_per_minute: int = 1200,
        flood_limiter: RateLimiter | None = None,
        body_limits: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.body_limits = tuple(body_limits)
        """(path prefix, limit) pairs: routes whose bodies may be larger (providers' email)."""
        self.cors = TenantCors(tenants=tenants)
        self.flood_limiter = flood_limiter or RateLimiter.memory()
        self.trusted = tuple(trusted_proxies)
        self.flood = flood_per_minute
        self.baseline = security_headers(html=False, tls=False)
        self.baseline_names = frozenset(name for name, _ in self.baseline)
        self._series: dict[tuple[str, str, int], RequestSeries] = {}
        self._flood_keys: dict[str, LimitKey] = {}
        self._log: Any = None
        self._log_requests = False

    async def _reject(
        self,
        send: Send,
        request_id: str,
        status: int,
        title: str,
        detail: str,
        slug: str,
        more: Headers | None = None,
    ) -> None:
        body = _problem_body(status, title, detail, slug, request_id)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (REQUEST_ID, request_id.encode()),
                    *(more or ()),
                    *self.baseline,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        headers = dict(scope["headers"])
        request_id = _request_id(headers)
        if self.trusted:
            ip = client_ip(scope, self.trusted)
        else:  # the socket peer, as client_ip answers without trusted proxies
            peer = scope.get("client")
            ip = peer[0] if peer else UNKNOWN
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["client_ip"] = ip
        begin_request(request_id, ip)
        status = 500
        response_started = False
        extra: Headers = []

        max_body = self._max_body(scope["path"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body):
            await self._reject(
                send,
                request_id,
                413,
                "Request too large",
                f"the body exceeds {max_body} bytes",
                "request-too-large",
            )
            self._observe(scope, 413, started)
            return

        flood = await self.flood_limiter.hit(self._flood_key(ip))
        if not flood.allowed:
            await self._reject(
                send,
                request_id,
                429,
                "Too many requests",
                "too many requests from this address",
                "rate-limited",
                flood.raw_headers(),
            )
            self._observe(scope, 429, started)
            return

        cors = await self.cors.answer(scope, headers)
        if cors is not None:
            if cors.status:
                if cors.title:
                    await self._reject(
                        send,
                        request_id,
                        cors.status,
                        cors.title,
                        cors.detail,
                        cors.slug,
                        cors.headers,
                    )
                else:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": cors.status,
                            "headers": [
                                *cors.headers,
                                (REQUEST_ID, request_id.encode()),
                                *self.baseline,
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": b""})
                self._observe(scope, cors.status, started)
                return
            extra = cors.headers

        received = 0
        refused = False

        async def bounded_receive() -> Message:
            # Refuse as soon as the body outgrows the limit, whatever the route would do with
            # it; the app then sees the client gone, and whatever it answers is dropped.
            nonlocal received, refused, status
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    if not response_started and not refused:
                        refused = True
                        status = 413
                        await self._reject(
                            send,
                            request_id,
                            413,
                            "Request too large",
                            f"the body exceeds {max_body} bytes",
                            "request-too-large",
                        )
                    return {"type": "http.disconnect"}
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal status, response_started
            if refused:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                own = message.get("headers", [])
                baseline = self.baseline
                names = self.baseline_names
                for name, _ in own:
                    if name.lower() in names:
                        # The route set one of them itself (an HTML page's CSP): its own wins.
                        present = {name.lower() for name, _ in own}
                        baseline = [h for h in baseline if h[0] not in present]
                        break
                more = state.get(RESPONSE_HEADERS)
                message["headers"] = [
                    *own,
                    *baseline,
                    *extra,
                    *(more or ()),
                    (REQUEST_ID, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, bounded_receive, tagged_send)
        finally:
            self._observe(scope, status, started)

    def _flood_key(self, ip: str) -> LimitKey:
        """The pre-auth quota of ``ip``'s address block (kept: a key is made once per block)."""
        key = self._flood_keys.get(ip)
        if key is None:
            if len(self._flood_keys) >= _CHILDREN_MAX:
                self._flood_keys.clear()
            key = self._flood_keys[ip] = LimitKey("ip", ip_bucket(ip), self.flood)
        return key

    def _max_body(self, path: str) -> int:
        for prefix, limit in self.body_limits:
            if path.startswith(prefix):
                return limit
        return self.max_body

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        elapsed = perf_counter() - started
        template = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"]
        key = (template, method, status)
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= _CHILDREN_MAX:
                self._series.clear()
            series = self._series[key] = self.metrics.http.series(template, method, status)
        self.metrics.http.observe(series, elapsed)
        logger = self._log
        if logger is None:
            # What ``log`` itself keeps once used (structlog's cache_logger_on_first_use),
            # without looking it up through the proxy on every request; and whether it logs
            # requests at all at its level (else their fields are not worked out).
            logger = self._log = log.bind()
            self._log_requests = logger.is_enabled_for(logging.INFO)
        if self._log_requests:
            logger.info(
                "gateway.request",
                method=method,
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                tenant=scope["state"].get("tenant"),
            )


RouteKey = tuple[str, ...]


def _key(path: str) -> RouteKey:
    """The literal start of a route's path: its first two segments, as far as neither holds a
    parameter (``/web/v1/{tenant}/…`` → ``("web", "v1")``, ``/{page}`` → ``()``)."""
    key: list[str] = []
    for segment in path.split("/")[1:3]:
        if "{" in segment:
            break
        key.append(segment)
    return tuple(key)


def _keys(route: BaseRoute, prefix: str = "") -> set[RouteKey] | None:
    """Every literal start that ``route`` (an included router: any of its routes) can match;
    None when unknown, and then the route is tried for every path."""
    included = getattr(route, "original_router", None)
    context = getattr(route, "include_context", None)
    if isinstance(included, APIRouter) and context is not None:
        keys: set[RouteKey] = set()
        for child in included.routes:
            found = _keys(child, prefix + getattr(context, "prefix", ""))
            if found is None:
                return None
            keys |= found
        return keys
    path = getattr(route, "path", None)
    if isinstance(path, str) and not isinstance(route, Mount):
        return {_key(prefix + path)}
    return None


class _Flat:
    """One route of an included router, filed in the index on its own (``RouteIndex``)."""

    __slots__ = ("context", "included", "version")

    def __init__(self, included: Any, context: Any, version: int) -> None:
        self.included = included
        self.context = context
        self.version = version
        """The included router's routes version when filed (it has no router of its own
        included, so its own count is the whole version: ``_get_routes_version`` walks it)."""


def _flatten(route: BaseRoute) -> list[tuple[Any, set[RouteKey] | None]] | None:
    """An included router's routes as index entries of their own, when every one of them is a
    plain API route; else None (the router is tried as a whole)."""
    if _selected is None or not isinstance(route, _selected[2]):
        return None
    version = getattr(route.original_router, "_routes_version", None)
    if not isinstance(version, int):
        return None
    entries: list[tuple[Any, set[RouteKey] | None]] = []
    for context in route.effective_candidates():
        if not isinstance(getattr(context, "original_route", None), APIRoute):
            return None
        entries.append((_Flat(route, context, version), {_key(context.path_format)}))
    return entries


class RouteIndex:
    """The router's first step, without walking every route: FastAPI tries the routes in order,
    and an included router tries each of its routes (twice for the one that matches), so a route
    in the last of ten routers paid for all the others. Here the top-level routes are filed by
    the literal start of their paths, and only those that could match a request's path are
    tried, in the router's order; an included router's routes are filed one by one, as if they
    were the app's own (FastAPI would walk the router's routes to find one). When none of them
    matches fully, the router runs as usual (not found, method not allowed, the trailing-slash
    redirect), so answers do not change.

    Once a route is chosen, its request-only dependencies (the tenant, the credential, scope
    and limits: ``deps.lift``) are resolved here, before the route's handler reads the body or
    opens a session, and outside FastAPI's dependency solver.

    The index follows the router: it is rebuilt when routes are added at the top level, or to
    an included router whose route was chosen.
    """

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.fallback: ASGIApp = router.middleware_stack
        self._size = -1
        self._entries: list[tuple[Any, set[RouteKey] | None]] = []
        self._candidates: dict[RouteKey, list[Any]] = {}
        self._early: dict[
            int, tuple[Dependant, tuple[tuple[EarlyDependency, EarlyDependency], ...]]
        ] = {}

    def _build(self) -> None:
        entries: list[tuple[Any, set[RouteKey] | None]] = []
        for route in self.router.routes:
            flat = _flatten(route)
            entries += [(route, _keys(route))] if flat is None else flat
        self._entries = entries
        self._candidates = {}
        self._size = len(self.router.routes)

    def candidates(self, key: RouteKey) -> list[Any]:
        """The routes that could match a path starting with ``key``, in the router's order."""
        found = self._candidates.get(key)
        if found is None:
            found = [
                route
                for route, keys in self._entries
                if keys is None or any(key[: len(k)] == k for k in keys)
            ]
            if len(self._candidates) < 4096:
                self._candidates[key] = found
        return found

    async def resolve_early(
        self, dependant: Dependant | None, scope: Scope, receive: Receive
    ) -> None:
        """Resolves the chosen route's request-only dependencies (lifting them out of
        FastAPI's solver the first time the route is chosen)."""
        if dependant is None:
            return
        entry = self._early.get(id(dependant))
        if entry is None or entry[0] is not dependant:
            overrides = getattr(
                self.router.dependency_overrides_provider, "dependency_overrides", None
            )
            # With overridden dependencies (tests), FastAPI's solver applies the overrides.
            lifted = () if overrides else lift(dependant)
            entry = (dependant, tuple((d, getattr(d, "__wrapped__", d)) for d in lifted))
            if len(self._early) >= 4096:
                self._early.clear()
            self._early[id(dependant)] = entry
        early = entry[1]
        if early:
            # Each is called without its once-per-request wrapper (nothing has resolved it
            # yet), its value filed where the wrapper and the route's endpoint look for it.
            request = Request(scope, receive)
            state = scope.setdefault("state", {})
            resolved = state.get(RESOLVED)
            if resolved is None:
                resolved = state[RESOLVED] = {}
            for dependency, call in early:
                if dependency not in resolved:
                    resolved[dependency] = await call(request)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = self.router
        if scope["type"] != "http" or _selected is None:
            await self.fallback(scope, receive, send)
            return
        if len(router.routes) != self._size:
            self._build()
        path = get_route_path(scope)
        candidates = self.candidates(tuple(path.split("/", 3)[1:3]))
        apply_form_limits, selected, included, handle_included = _selected
        apply_form_limits(scope, router.form_limits)
        if "router" not in scope:
            scope["router"] = router
        for route in candidates:
            if type(route) is _Flat:
                context = route.context
                match, child_scope = context.matches(scope)
                if match is Match.FULL:
                    if route.included.original_router._routes_version != route.version:
                        # The router's routes changed since the index was built.
                        self._size = -1
                        await self(scope, receive, send)
                        return
                    original = child_scope["route"] = context.original_route
                    found = (match, child_scope, original, context)
                    await handle_included(
                        route.included, found, scope, receive, send, self.resolve_early
                    )
                    return
                continue
            if isinstance(route, included):
                # An included router matches the path once here, and is handed the match:
                # FastAPI would match it again to handle it.
                found = route._match(scope)
                if found[0] is Match.FULL:
                    await handle_included(route, found, scope, receive, send, self.resolve_early)
                    return
                continue
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                selected(scope, child_scope, route)
                if isinstance(route, APIRoute):
                    await self.resolve_early(route.dependant, scope, receive)
                await route.handle(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def _load_selected() -> Any:
    """What FastAPI's router does to the request's scope before and once a route is chosen;
    None (no index) if this FastAPI does not have the helpers it uses for it."""
    try:
        from fastapi._body_limit import wrap_app_with_body_limit
        from fastapi.routing import (
            _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
            _FASTAPI_INCLUDED_ROUTER_KEY,
            APIRoute,
            _apply_router_form_limits,
            _get_fastapi_scope,
            _IncludedRouter,
            _update_scope,
        )
        from fastapi.telemetry._api import _route_selected
    except ImportError:  # pragma: no cover (another FastAPI)
        return None

    def selected(scope: Scope, child_scope: Scope, route: BaseRoute) -> None:
        _update_scope(scope, child_scope)
        _route_selected(
            scope=scope, path=getattr(route, "path_format", None), mount=isinstance(route, Mount)
        )

    async def handle_included(
        included: Any, found: Any, scope: Scope, receive: Receive, send: Send, early: Any
    ) -> None:
        """``_IncludedRouter.handle`` given the match ``found`` (its ``_handle_selected``)."""
        _, child_scope, route, context = found
        _apply_router_form_limits(scope, included.include_context.form_limits)
        fastapi_scope = _get_fastapi_scope(scope)
        fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = included
        _update_scope(scope, child_scope)
        if isinstance(route, _IncludedRouter):
            await route.handle(scope, receive, send)
            return
        if context is not None:
            _route_selected(
                scope=scope,
                path=getattr(context.starlette_route, "path_format", None) or context.path_format,
                mount=isinstance(route, Mount),
            )
            fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
            if isinstance(context.original_route, APIRoute):
                scope["route"] = context.original_route
                await early(context.dependant, scope, receive)
                await context.original_route.handle(scope, receive, send)
                return
        handle = wrap_app_with_body_limit(route.handle, included.include_context.max_body_size)
        await handle(scope, receive, send)

    return _apply_router_form_limits, selected, _IncludedRouter, handle_included


_selected = _load_selected()


def index_routes(app: FastAPI) -> None:
    """Put a ``RouteIndex`` in front of the app's router."""
    app.router.middleware_stack = RouteIndex(app.router)

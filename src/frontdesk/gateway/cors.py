"""Per-tenant CORS for the browser routes (``/web/v1/{tenant}/…``), as plain ASGI.

The tenant comes from the path, so a preflight is answered with that tenant's own allowed
origins. A cross-origin request from an origin the tenant has not allowed is refused outright
(a publishable key is bound to its tenant's origins); same-origin requests (the demo page) pass.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.errors import FrontDeskError
from frontdesk.security.cors import VARY_ORIGIN, CorsPolicy, normalize_origin
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.store import TenantContextStore

WEB_PATH = re.compile(r"^/web/v1/([a-z0-9-]{1,63})(?:/|$)")


class TenantCors:
    def __init__(self, app: ASGIApp, *, tenants: TenantContextStore) -> None:
        self.app = app
        self.tenants = tenants
        self._policies: dict[tuple[str, ...], CorsPolicy] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = WEB_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1") or None
        preflight = scope["method"] == "OPTIONS" and b"access-control-request-method" in headers
        if origin is None or _same_origin(scope, headers, origin):
            if preflight:
                await _reply(send, 204, [VARY_ORIGIN])
                return
            await self.app(scope, receive, _with(send, [VARY_ORIGIN]))
            return
        try:
            tenant = await self.tenants.by_slug(match.group(1))
        except FrontDeskError as exc:
            await _problem(send, exc.status, exc.title, exc.detail, exc.type_slug)
            return
        policy = self._policy(tenant)
        if preflight:
            allowed = policy.preflight(
                origin,
                headers.get(b"access-control-request-method", b"").decode("latin-1"),
                headers.get(b"access-control-request-headers", b"").decode("latin-1"),
            )
            if allowed is None:
                await _problem(
                    send,
                    403,
                    "Origin not allowed",
                    "this origin may not call this tenant",
                    "origin-not-allowed",
                )
                return
            await _reply(send, 204, [*allowed, VARY_ORIGIN])
            return
        if not policy.allows(origin):
            await _problem(
                send,
                403,
                "Origin not allowed",
                "this origin may not call this tenant",
                "origin-not-allowed",
            )
            return
        await self.app(scope, receive, _with(send, [*policy.actual(origin), VARY_ORIGIN]))

    def _policy(self, tenant: TenantContext) -> CorsPolicy:
        origins = tenant.settings.allowed_origins
        policy = self._policies.get(origins)
        if policy is None:
            if len(self._policies) > 10_000:
                self._policies.clear()
            policy = self._policies[origins] = CorsPolicy(origins)
        return policy


def _same_origin(scope: Scope, headers: dict[bytes, bytes], origin: str) -> bool:
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        return False
    own = normalize_origin(f"{scope.get('scheme', 'http')}://{host}")
    return own is not None and normalize_origin(origin) == own


def _with(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def _reply(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _problem(send: Send, status: int, title: str, detail: str, slug: str) -> None:
    body = orjson.dumps(
        {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                VARY_ORIGIN,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

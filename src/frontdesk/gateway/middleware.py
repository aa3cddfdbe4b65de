"""The outer pipeline, as one plain ASGI layer and cheap before expensive: request id → body
size limit → pre-auth flood limit per client IP → per-tenant CORS on the browser routes; plus
the access log, metrics and baseline security headers.

The pre-auth flood limit counts in this instance's memory whatever limiter the tenants' limits
use: it guards the instance, so it costs no round trip to a shared store.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import orjson
import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.gateway.cors import TenantCors
from frontdesk.gateway.deps import RESPONSE_HEADERS
from frontdesk.observability.metrics import Metrics
from frontdesk.security.client_ip import client_ip, ip_bucket
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


def _request_id(headers: dict[bytes, bytes]) -> str:
    incoming = headers.get(REQUEST_ID)
    if incoming is not None and 8 <= len(incoming) <= 64:
        text = incoming.decode("latin-1")
        if text.isprintable():
            return text
    return secrets.token_hex(8)


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
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.cors = TenantCors(tenants=tenants)
        self.flood_limiter = flood_limiter or RateLimiter.memory()
        self.trusted = tuple(trusted_proxies)
        self.flood = flood_per_minute
        self.baseline = security_headers(html=False, tls=False)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = _request_id(headers)
        ip = client_ip(scope, self.trusted)
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["client_ip"] = ip
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, client_ip=ip)
        started = time.perf_counter()
        status = 500
        response_started = False
        tagged_id = (REQUEST_ID, request_id.encode())
        extra: Headers = []

        async def reject(
            status: int, title: str, detail: str, slug: str, more: Headers | None = None
        ) -> None:
            body = _problem_body(status, title, detail, slug, request_id)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                        tagged_id,
                        *(more or ()),
                        *self.baseline,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await reject(
                413,
                "Request too large",
                f"the body exceeds {self.max_body} bytes",
                "request-too-large",
            )
            self._observe(scope, 413, started)
            return

        flood = await self.flood_limiter.hit(LimitKey("ip", ip_bucket(ip), self.flood))
        if not flood.allowed:
            await reject(
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
                    await reject(cors.status, cors.title, cors.detail, cors.slug, cors.headers)
                else:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": cors.status,
                            "headers": [*cors.headers, tagged_id, *self.baseline],
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
                if received > self.max_body:
                    if not response_started and not refused:
                        refused = True
                        status = 413
                        await reject(
                            413,
                            "Request too large",
                            f"the body exceeds {self.max_body} bytes",
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
                present = {name.lower() for name, _ in own}
                message = {
                    **message,
                    "headers": [
                        *own,
                        *(h for h in self.baseline if h[0] not in present),
                        *extra,
                        *state.get(RESPONSE_HEADERS, ()),
                        tagged_id,
                    ],
                }
            await send(message)

        try:
            await self.app(scope, bounded_receive, tagged_send)
        finally:
            self._observe(scope, status, started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        key = (template, method, status)
        children = self._children.get(key)
        if children is None:
            # labels() costs more than the observation itself: keep the bound children.
            if len(self._children) >= _CHILDREN_MAX:
                self._children.clear()
            children = self._children[key] = (
                self.metrics.http_requests.labels(template, method, str(status)),
                self.metrics.http_latency.labels(template),
            )
        children[0].inc()
        children[1].observe(elapsed)
        log.info(
            "gateway.request",
            method=method,
            route=template,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
            tenant=scope["state"].get("tenant"),
        )

"""The outer pipeline, as plain ASGI and cheap before expensive: request id → body size limit →
pre-auth flood limit per client IP; plus the access log, metrics and baseline security headers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.observability.metrics import Metrics
from frontdesk.security.client_ip import client_ip, ip_bucket
from frontdesk.security.cors import security_headers
from frontdesk.security.ratelimit import LimitKey, RateLimiter

log = structlog.get_logger("frontdesk.gateway")
REQUEST_ID = b"x-request-id"


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


class Pipeline:
    """Gives every request an id, bounds its body, logs and counts it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body: int,
        limiter: RateLimiter,
        trusted_proxies: Sequence[IPv4Network | IPv6Network] = (),
        flood_per_minute: int = 1200,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.limiter = limiter
        self.trusted = tuple(trusted_proxies)
        self.flood = flood_per_minute
        self.baseline = security_headers(html=False, tls=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(REQUEST_ID, b"").decode("latin-1")
        request_id = (
            incoming
            if 8 <= len(incoming) <= 64 and incoming.isprintable()
            else secrets.token_hex(8)
        )
        ip = client_ip(scope, self.trusted)
        scope.setdefault("state", {})["client_ip"] = ip
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, client_ip=ip)
        started = time.perf_counter()
        status = 500
        response_started = False

        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._reject(
                send,
                request_id,
                413,
                "Request too large",
                f"the body exceeds {self.max_body} bytes",
                "request-too-large",
            )
            self._observe(scope, 413, started)
            return

        flood = await self.limiter.hit(LimitKey("ip", ip_bucket(ip), self.flood))
        if not flood.allowed:
            await self._reject(
                send,
                request_id,
                429,
                "Too many requests",
                "too many requests from this address",
                "rate-limited",
                extra=flood.headers(),
            )
            self._observe(scope, 429, started)
            return

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
                        await self._reject(
                            send,
                            request_id,
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
                headers = list(message.get("headers", []))
                message = {
                    **message,
                    "headers": [
                        *headers,
                        *self._missing(headers),
                        (REQUEST_ID, request_id.encode()),
                    ],
                }
            await send(message)

        try:
            await self.app(scope, bounded_receive, tagged_send)
        finally:
            self._observe(scope, status, started)

    def _missing(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The baseline security headers a response does not set itself (HTML sets its own)."""
        present = {name.lower() for name, _ in headers}
        return [(name, value) for name, value in self.baseline if name not in present]

    async def _reject(
        self,
        send: Send,
        request_id: str,
        status: int,
        title: str,
        detail: str,
        slug: str,
        extra: dict[str, str] | None = None,
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
                    *((k.lower().encode(), v.encode()) for k, v in (extra or {}).items()),
                    *self.baseline,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.http_requests.labels(template, scope["method"], str(status)).inc()
        self.metrics.http_latency.labels(template).observe(elapsed)
        log.info(
            "gateway.request",
            method=scope["method"],
            route=template,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
            tenant=scope.get("state", {}).get("tenant"),
        )

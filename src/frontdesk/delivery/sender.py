"""``webhook.send``: POST one signed event to one of the tenant's webhook endpoints."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.delivery import endpoints, webhooks
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure, RetryLater
from frontdesk.delivery.models import OutboxJob
from frontdesk.ids import new_id
from frontdesk.security.crypto import SecretBox
from frontdesk.security.signatures import HEADER_SIGNATURE, sign_request
from frontdesk.security.ssrf import UnsafeUrl, UrlGuard, send_pinned
from frontdesk.store.base import utcnow
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.store import TenantContextStore

log = structlog.get_logger("frontdesk.delivery")
CLIENT_ERROR_ATTEMPTS = 5
"""A 3xx or 4xx (other than 410 and 429) is tried this many times in all, then dead."""
TIMEOUTS = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "FrontDesk-Webhooks/1"


def retry_after(response: httpx.Response) -> float | None:
    """The response's ``Retry-After`` in seconds (delta or HTTP date), if it has a usable one."""
    value = (response.headers.get("retry-after") or "").strip()[:64]
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def envelope(event: str, timestamp: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": event, "timestamp": timestamp, "data": data})


def raise_for_status(response: httpx.Response, *, attempt: int) -> None:
    """2xx is delivered; otherwise the error that tells the runner what to do next."""
    status = response.status_code
    if 200 <= status < 300:
        return
    answer = f"the endpoint answered {status}"
    if status == 410:
        raise PermanentFailure(answer, code="gone")
    if status == 429:
        raise RetryLater(answer, retry_after=retry_after(response), code="http_429")
    if status >= 500 or status == 408:
        raise DeliveryFailed(answer, retry_after=retry_after(response), code=f"http_{status}")
    if 300 <= status < 400:
        answer += " (redirects are not followed)"
    if attempt >= CLIENT_ERROR_ATTEMPTS:
        raise PermanentFailure(answer, code=f"http_{status}")
    raise DeliveryFailed(answer, code=f"http_{status}")


@dataclass(frozen=True, slots=True)
class Ping:
    delivered: bool
    status: int | None
    error: str | None
    webhook_id: str


class WebhookSender:
    """``webhook.send``: one signed POST of one event to one endpoint.

    The ``webhook-id`` is the job's (``msg_<job id>``), the same on every retry, so the receiver
    can drop duplicates; every active secret of the endpoint signs (rotation). The URL passes
    the SSRF guard again and the request goes to the address just checked."""

    kind = webhooks.WEBHOOK_JOB
    policy = webhooks.WEBHOOK_POLICY

    def __init__(
        self,
        box: SecretBox,
        tenants: TenantContextStore,
        guard: UrlGuard,
        *,
        timeouts: httpx.Timeout = TIMEOUTS,
    ) -> None:
        self.box = box
        self.tenants = tenants
        self.guard = guard
        self.timeouts = timeouts

    @staticmethod
    def destination(job: OutboxJob) -> str:
        """The job's circuit: its endpoint."""
        return f"webhook:{job.payload['endpoint_id']}"

    async def __call__(self, session: AsyncSession, job: OutboxJob) -> None:
        endpoint_id = uuid.UUID(job.payload["endpoint_id"])
        endpoint = await endpoints.EndpointRepository(session, job.tenant_id).get(endpoint_id)
        if endpoint is None:
            log.info("delivery.webhook_endpoint_removed", job_id=str(job.id))
            return
        if not endpoint.enabled:
            raise PermanentFailure("the webhook endpoint is disabled", code="disabled")
        body = envelope(job.payload["event"], job.payload["timestamp"], job.payload["data"])
        response = await self.post(
            session, job.tenant_id, endpoint_id, endpoint.url, f"msg_{job.id.hex}", body
        )
        raise_for_status(response, attempt=job.attempts + 1)

    async def post(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        url: str,
        msg_id: str,
        body: bytes,
    ) -> httpx.Response:
        """Check ``url``, sign ``body`` with every active secret and send it; transport errors
        become ``DeliveryFailed``, a refused URL ``PermanentFailure`` (nothing is sent)."""
        try:
            target = await self.guard.check(url)
        except UnsafeUrl as exc:
            raise PermanentFailure(exc.detail, code="unsafe_url") from None
        secrets = await endpoints.active_secrets(session, self.box, tenant_id, endpoint_id)
        if not secrets:
            raise PermanentFailure("the webhook endpoint has no active secret", code="no_secret")
        now = utcnow()
        signed = [sign_request(s, body, msg_id=msg_id, timestamp=now) for s in secrets]
        headers = {
            **signed[0],
            HEADER_SIGNATURE: " ".join(h[HEADER_SIGNATURE] for h in signed),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        try:
            return await send_pinned(target, content=body, headers=headers, timeouts=self.timeouts)
        except httpx.TimeoutException:
            raise DeliveryFailed("the endpoint did not answer in time", code="timeout") from None
        except (httpx.HTTPError, OSError) as exc:
            reason = type(exc).__name__
            raise DeliveryFailed(f"cannot reach the endpoint ({reason})", code="connect") from None

    async def ping(
        self, session: AsyncSession, tenant: TenantContext, endpoint_id: uuid.UUID
    ) -> Ping:
        """Send a signed ``ping`` to the endpoint now, once, and say what it answered."""
        endpoint = await endpoints.get_endpoint(session, tenant, endpoint_id)
        msg_id = f"msg_{new_id().hex}"
        body = envelope(
            webhooks.PING,
            utcnow().isoformat(),
            {"endpoint_id": str(endpoint.id), "tenant": tenant.slug},
        )
        response: httpx.Response | None = None
        try:
            response = await self.post(session, tenant.id, endpoint.id, endpoint.url, msg_id, body)
            raise_for_status(response, attempt=CLIENT_ERROR_ATTEMPTS)
        except DeliveryFailed as exc:
            status = response.status_code if response is not None else None
            return Ping(delivered=False, status=status, error=exc.detail, webhook_id=msg_id)
        return Ping(delivered=True, status=response.status_code, error=None, webhook_id=msg_id)

    async def on_dead(self, session: AsyncSession, job: OutboxJob, exc: Exception) -> None:
        """A 410 Gone disables the endpoint, so nothing more is queued for it."""
        if getattr(exc, "code", None) != "gone":
            return
        tenant = await self.tenants.by_id(job.tenant_id, session=session)
        await endpoints.disable_endpoint(
            session,
            tenant,
            uuid.UUID(job.payload["endpoint_id"]),
            reason="the receiver answered 410 Gone",
        )

"""Outgoing webhooks to tenants: the events, and ``emit``, which queues one per endpoint.

``emit`` writes, in the caller's transaction, one ``webhook.send`` outbox job for every enabled
endpoint of the tenant subscribed to the event; the job's idempotency key comes from the
caller's ``key`` and the endpoint, so emitting one fact twice sends it once. The job
(``delivery.tasks.WebhookSender``) POSTs the envelope ``{"type", "timestamp", "data"}`` signed
with Standard Webhooks, its ``webhook-id`` the same on every retry, and retries for at least
24 hours (``WEBHOOK_POLICY``) before the job is dead-lettered.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Message
from frontdesk.conversations.schemas import MessageOut
from frontdesk.delivery.service import RetryPolicy, enqueue
from frontdesk.store.base import utcnow
from frontdesk.tenancy.context import TenantContext

MESSAGE_CREATED = "message.created"
MESSAGE_STATUS = "message.status"
CONVERSATION_TRANSFERRED = "conversation.transferred"
CONVERSATION_HANDOFF = "conversation.handoff"
LEAD_CREATED = "lead.created"
LEAD_UPDATED = "lead.updated"
PING = "ping"
EVENTS: tuple[str, ...] = (
    MESSAGE_CREATED,
    MESSAGE_STATUS,
    CONVERSATION_TRANSFERRED,
    CONVERSATION_HANDOFF,
    LEAD_CREATED,
    LEAD_UPDATED,
)
"""The events an endpoint can subscribe to (``*``: all of them). ``ping`` goes only to the
endpoint it is sent to, on request."""
ALL = "*"

WEBHOOK_JOB = "webhook.send"
RETRY_FOR = timedelta(hours=24)


def lasting(span: timedelta, *, base: float, cap: float, floor: float) -> RetryPolicy:
    """The policy with the fewest attempts whose shortest possible schedule lasts ``span``."""
    policy = RetryPolicy(max_attempts=1, base=base, cap=cap, floor=floor)
    while policy.min_span() < span:
        policy = RetryPolicy(max_attempts=policy.max_attempts + 1, base=base, cap=cap, floor=floor)
    return policy


WEBHOOK_POLICY = lasting(RETRY_FOR, base=10.0, cap=3600.0, floor=0.5)
"""10 s, 20 s, 40 s … doubling up to an hour between attempts (each delay between half and all
of that), as many attempts as it takes for even the shortest draw to span 24 hours."""


def subscribed(events: tuple[str, ...] | list[str], event: str) -> bool:
    return event in events or (ALL in events and event != PING)


def listening(tenant: TenantContext, event: str) -> bool:
    """Whether an enabled endpoint of ``tenant`` takes ``event`` (so its data is worth making)."""
    return any(e.enabled and subscribed(e.events, event) for e in tenant.webhooks)


def job_key(endpoint_id: object, key: str) -> str:
    """The outbox idempotency key of ``key`` sent to one endpoint (bounded to the column)."""
    if len(key) > 150:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return f"webhook:{endpoint_id}:{key}"


async def emit(
    session: AsyncSession,
    tenant: TenantContext,
    event: str,
    data: dict[str, Any],
    *,
    key: str,
) -> None:
    """Queue ``event`` for every enabled endpoint of ``tenant`` subscribed to it, in the caller's
    transaction. ``key`` names the fact (e.g. ``message.created:<message id>``): emitting the
    same key again queues nothing more. ``data`` must be JSON-serialisable."""
    endpoints = [e for e in tenant.webhooks if e.enabled and subscribed(e.events, event)]
    if not endpoints:
        return
    timestamp = utcnow().isoformat()
    for endpoint in endpoints:
        await enqueue(
            session,
            tenant.id,
            kind=WEBHOOK_JOB,
            payload={
                "endpoint_id": str(endpoint.id),
                "event": event,
                "timestamp": timestamp,
                "data": data,
            },
            key=job_key(endpoint.id, key),
            max_attempts=WEBHOOK_POLICY.max_attempts,
        )


async def message_created(session: AsyncSession, tenant: TenantContext, message: Message) -> None:
    """``message.created`` for a message just stored (inbound or reply); free without endpoints."""
    if not tenant.webhooks:
        return
    await emit(
        session,
        tenant,
        MESSAGE_CREATED,
        MessageOut.model_validate(message).model_dump(mode="json"),
        key=f"{MESSAGE_CREATED}:{message.id}",
    )


async def message_status(session: AsyncSession, tenant: TenantContext, message: Message) -> None:
    """``message.status`` for the message's new status, once per message and status (a
    provider's repeated or late callback adds nothing); free without endpoints."""
    if not tenant.webhooks:
        return
    await emit(
        session,
        tenant,
        MESSAGE_STATUS,
        {
            "message_id": str(message.id),
            "conversation_id": str(message.conversation_id),
            "channel": message.channel,
            "status": message.status,
            "error": message.payload.get("error"),
            "at": utcnow().isoformat(),
        },
        key=f"{MESSAGE_STATUS}:{message.id}:{message.status}",
    )

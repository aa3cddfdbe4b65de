"""``delivery.send``: hand an outbound message to its channel and record how it went."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.base import ChannelRegistry
from frontdesk.channels.outbound import prepare
from frontdesk.conversations import service as conversations
from frontdesk.delivery import webhooks
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.service import backoff, enqueue
from frontdesk.delivery.worker import Handler, OnDead
from frontdesk.store.base import utcnow
from frontdesk.tenancy.store import TenantContextStore

SEND_JOB = "delivery.send"


def breaker_of(job: OutboxJob) -> str | None:
    """A send job's circuit: its channel (per tenant, the runner adds)."""
    channel = job.payload.get("channel")
    return str(channel) if channel else None


def _replayed(status: str, provider_id: str | None) -> bool:
    """A message whose send was dead-lettered (failed, never accepted by the provider) goes
    out when its job is retried (``frontdesk jobs retry``)."""
    return status == "failed" and provider_id is None


def make_send(tenants: TenantContextStore, channels: ChannelRegistry) -> Handler:
    async def send(session: AsyncSession, job: OutboxJob) -> None:
        tenant = await tenants.by_id(job.tenant_id, session=session)
        message = await conversations.get_message(
            session, tenant, uuid.UUID(job.payload["message_id"])
        )
        if not (message.status == "queued" or _replayed(message.status, message.provider_id)):
            return  # sent, delivered, read or held: nothing more to do
        conversation = await conversations.get_conversation(
            session, tenant, message.conversation_id
        )
        start = int(job.payload.get("start", 0))
        adapter = channels.get(message.channel)
        outbound = await prepare(
            session, tenant, message, conversation, start=start, adapter=adapter
        )
        result = await adapter.send(tenant, outbound)
        message.provider_id = message.provider_id or result.provider_id
        if result.note:
            message.payload = {**message.payload, "delivery": result.note}
        if result.failure is not None:
            # Some parts went out: they are kept, and only the rest is tried again.
            await _continue(session, job, start + result.parts, result.failure)
            return
        message.status = result.status
        await webhooks.message_status(session, tenant, message)

    return send


async def _continue(
    session: AsyncSession, job: OutboxJob, start: int, failure: DeliveryFailed
) -> None:
    wait = backoff(job.attempts + 1)
    if failure.retry_after is not None:
        wait = max(wait, backoff(0, base=failure.retry_after, cap=failure.retry_after))
    await enqueue(
        session,
        job.tenant_id,
        kind=SEND_JOB,
        payload={**job.payload, "start": start},
        key=f"send:{job.payload['message_id']}:{start}",
        run_at=utcnow() + wait,
    )


def make_send_failed(tenants: TenantContextStore) -> OnDead:
    """When a send job is dead-lettered, its message is marked failed with the reason."""

    async def failed(session: AsyncSession, job: OutboxJob, exc: Exception) -> None:
        tenant = await tenants.by_id(job.tenant_id, session=session)
        message = await conversations.get_message(
            session, tenant, uuid.UUID(job.payload["message_id"])
        )
        if message.status != "queued":
            return
        code = exc.code if isinstance(exc, DeliveryFailed) else None
        message.status = "failed"
        reason = exc.detail if isinstance(exc, PermanentFailure) else type(exc).__name__
        message.payload = {**message.payload, "error": {"code": code, "title": reason[:200]}}
        await webhooks.message_status(session, tenant, message)

    return failed

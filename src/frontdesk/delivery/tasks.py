"""``delivery.send``: hand an outbound message to its channel and record that it went."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.base import ChannelRegistry
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import MessageOut
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.worker import Handler
from frontdesk.tenancy.store import TenantContextStore


def make_send(tenants: TenantContextStore, channels: ChannelRegistry) -> Handler:
    async def send(session: AsyncSession, job: OutboxJob) -> None:
        tenant = await tenants.by_id(job.tenant_id, session=session)
        message = await conversations.get_message(
            session, tenant, uuid.UUID(job.payload["message_id"])
        )
        if message.status in {"sent", "delivered", "read"}:
            return
        message.status = "sent"
        await session.flush()
        await channels.get(message.channel).send(tenant, MessageOut.model_validate(message))

    return send

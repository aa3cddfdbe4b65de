"""The CRM channel's service: queue a lead's push, keep its CRM record, and act on a CRM's
events (a deal reaching a stage sends the customer a message on their channel).

A push is an outbox job (``crm.push``) written in the transaction that changed the lead, so a
lead is never changed without its push queued, nor pushed before the change is committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import service as conversations
from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.models import Lead, Message
from frontdesk.conversations.repository import insert_or_skip
from frontdesk.crm.models import CrmRecord
from frontdesk.delivery.service import RetryPolicy, enqueue
from frontdesk.engine.reply import Reply
from frontdesk.errors import NotFound
from frontdesk.store.repository import TenantRepository
from frontdesk.tenancy.context import TenantContext

PUSH_JOB: Final = "crm.push"
PUSH_POLICY: Final = RetryPolicy(max_attempts=10, base=5.0, cap=3600.0, floor=0.5)
"""5 s, 10 s, 20 s … up to an hour between attempts (each between half and all of it)."""
PROVIDERS: Final = ("hubspot",)
"""The CRMs leads are pushed to, each a connection kind."""
MAX_KEY: Final = 255


class LeadNotFound(NotFound):
    title = "Lead not found"
    type_slug = "lead-not-found"


class CrmRecordRepository(TenantRepository[CrmRecord]):
    model = CrmRecord

    async def by_deal(self, provider: str, deal_ref: str) -> CrmRecord | None:
        query = self.select().where(CrmRecord.provider == provider, CrmRecord.deal_ref == deal_ref)
        return (await self.session.execute(query.limit(1))).scalar_one_or_none()

    async def claim(self, provider: str, lead_id: uuid.UUID) -> CrmRecord:
        """The lead's record in ``provider`` (made if missing), locked for this transaction:
        a concurrent push of the same lead waits here, then sees the ids this one stored."""
        await self.session.execute(
            insert_or_skip(self.session, CrmRecord, "tenant_id", "provider", "lead_id").values(
                tenant_id=self.tenant_id, provider=provider, lead_id=lead_id
            )
        )
        query = (
            self.select()
            .where(CrmRecord.provider == provider, CrmRecord.lead_id == lead_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(query)).scalar_one()


def pushes_to(tenant: TenantContext) -> list[str]:
    """The CRMs the tenant's leads go to (its active CRM connections)."""
    return [provider for provider in PROVIDERS if tenant.channel(provider) is not None]


async def queue_push(session: AsyncSession, tenant: TenantContext, lead: Lead, *, key: str) -> None:
    """Queue the push of ``lead`` to each of the tenant's CRMs, in the caller's transaction;
    ``key`` names the change (queuing it again adds nothing). The job pushes the lead as it is
    when it runs, so a late job never rolls the CRM back to an older state."""
    for provider in pushes_to(tenant):
        await enqueue(
            session,
            tenant.id,
            kind=PUSH_JOB,
            payload={"lead_id": str(lead.id), "provider": provider},
            key=f"{PUSH_JOB}:{provider}:{lead.id}:{key}"[:MAX_KEY],
            max_attempts=PUSH_POLICY.max_attempts,
        )


@dataclass(frozen=True, slots=True)
class StageOutcome:
    """What a CRM's stage event did: the message sent (or already sent), if any."""

    lead_id: uuid.UUID
    message: Message | None
    duplicate: bool


async def stage_reached(
    session: AsyncSession,
    tenant: TenantContext,
    lead: Lead,
    *,
    stage: str,
    text: str | None,
    key: str,
    events: ConversationEvents,
    needs_delivery: Callable[[str], bool],
    detail: dict[str, Any],
) -> StageOutcome:
    """A CRM moved ``lead``'s deal to ``stage``: send ``text`` (if any) to the customer on the
    conversation's channel, once per event (``key`` is the message's idempotency key). The
    message goes the way every reply goes: stored, then ``delivery.send`` where the channel
    pushes (WhatsApp's 24-hour rule and all), or read from the store (web chat)."""
    if lead.conversation_id is None or not text:
        return StageOutcome(lead.id, None, False)
    conversation = await conversations.get_conversation(session, tenant, lead.conversation_id)
    key = f"crm:{key}"[:MAX_KEY]
    existing = await conversations.find_message(
        session, tenant, channel=conversation.channel, external_id=key
    )
    if existing is not None:
        return StageOutcome(lead.id, existing, True)
    language = conversation.language or (tenant.pack.default_language if tenant.pack else "es")
    payload = {**Reply(text=text, language=language).to_dict(), "crm": {**detail, "stage": stage}}
    try:
        # Two deliveries of one event at once: the second loses on the unique key.
        async with session.begin_nested():
            message = await conversations.append_outbound(
                session,
                tenant,
                conversation,
                sender="assistant",
                text=text,
                payload=payload,
                external_id=key,
                events=events,
                deliver=needs_delivery(conversation.channel),
            )
    except IntegrityError:
        existing = await conversations.find_message(
            session, tenant, channel=conversation.channel, external_id=key
        )
        if existing is None:
            raise
        return StageOutcome(lead.id, existing, True)
    return StageOutcome(lead.id, message, False)

"""Leads from conversations: created once the purchase-intention score crosses the tenant's
threshold, updated as the conversation goes on, announced as ``lead.created``/``lead.updated``
(with the conversation's summary) and pushed to the tenant's CRM (``crm.push``), both in the
transaction that changed the lead."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Contact, Conversation, Lead
from frontdesk.crm.service import queue_push
from frontdesk.crm.summary import summarize
from frontdesk.delivery import webhooks
from frontdesk.engine.state import EngineState
from frontdesk.store.repository import TenantRepository
from frontdesk.tenancy.context import TenantContext


class LeadRepository(TenantRepository[Lead]):
    model = Lead

    async def for_conversation(self, conversation_id: uuid.UUID) -> Lead | None:
        result = await self.session.execute(
            self.select().where(Lead.conversation_id == conversation_id).limit(1)
        )
        return result.scalar_one_or_none()


class ContactRepository(TenantRepository[Contact]):
    model = Contact


@dataclass(frozen=True, slots=True)
class LeadChange:
    """What happened to the conversation's lead."""

    lead: Lead
    change: Literal["created", "updated"]


def lead_data(state: EngineState) -> dict[str, Any]:
    """What the conversation told us, as the lead's ``data``."""
    data: dict[str, Any] = {
        "budget": state.budget.model_dump(mode="json") if state.budget else None,
        "timeline": state.timeline,
        "urgent": state.urgent,
        "name": state.name,
        "email": state.email,
        "phone": state.phone,
    }
    return {key: value for key, value in data.items() if value not in (None, False)}


def lead_out(lead: Lead) -> dict[str, Any]:
    """The lead as the webhooks send it."""
    return {
        "id": str(lead.id),
        "conversation_id": str(lead.conversation_id) if lead.conversation_id else None,
        "contact_id": str(lead.contact_id),
        "score": lead.score,
        "stage": lead.stage,
        "service_ids": list(lead.service_ids),
        "data": dict(lead.data),
    }


async def sync_lead(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    state: EngineState,
    *,
    key: str,
    extra: Mapping[str, Any] | None = None,
) -> LeadChange | None:
    """Create the conversation's lead (once) or update it with ``state``; ``key`` (the
    message answered) keeps the update's webhook from being sent twice. ``None`` when nothing
    changed."""
    leads = LeadRepository(session, tenant.id)
    lead = await leads.for_conversation(conversation.id)
    data = {**lead_data(state), **(extra or {})}
    services = list(state.services)
    if lead is None:
        lead = leads.add(
            Lead(
                contact_id=conversation.contact_id,
                conversation_id=conversation.id,
                score=state.score,
                stage=state.stage,
                service_ids=services,
                data=data,
            )
        )
        await session.flush()
        change: Literal["created", "updated"] = "created"
        event, event_key = webhooks.LEAD_CREATED, f"{webhooks.LEAD_CREATED}:{lead.id}"
    else:
        merged = {**lead.data, **data}
        if (lead.score, lead.stage, list(lead.service_ids), lead.data) == (
            state.score,
            state.stage,
            services,
            merged,
        ):
            return None
        lead.score, lead.stage, lead.service_ids, lead.data = (
            state.score,
            state.stage,
            services,
            merged,
        )
        change = "updated"
        event, event_key = webhooks.LEAD_UPDATED, f"{webhooks.LEAD_UPDATED}:{lead.id}:{key}"
    state.lead_id = str(lead.id)
    contact = await ContactRepository(session, tenant.id).get(conversation.contact_id)
    if contact is not None:
        contact.email = contact.email or state.email
        contact.phone = contact.phone or state.phone
        contact.display_name = contact.display_name or state.name
    data = lead_out(lead)
    if webhooks.listening(tenant, event):
        data["summary"] = await summarize(
            session, tenant, lead, contact, language=conversation.language
        )
    await webhooks.emit(session, tenant, event, data, key=event_key)
    await queue_push(session, tenant, lead, key=change if change == "created" else key)
    return LeadChange(lead=lead, change=change)

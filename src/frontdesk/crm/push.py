"""``crm.push``: a lead and its conversation's summary, into HubSpot — created once, then
updated.

The lead's CRM record is locked for the push, so two pushes of one lead run one after the
other and the second updates what the first made. Before creating anything the push looks
it up by our ids (``frontdesk_contact_id`` on contacts, ``frontdesk_lead_id`` on deals, the
lead id in the note), so a push retried after a timeout that HubSpot did complete finds the
records instead of making them twice; a 409 on create names the record to update instead.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.connections import open_credentials
from frontdesk.conversations.models import Contact, Lead
from frontdesk.conversations.repository import ConversationRepository
from frontdesk.crm.hubspot import Conflict, Gone, HubSpotClient, ObjectType, association
from frontdesk.crm.schemas import HubSpotOptions
from frontdesk.crm.service import PUSH_JOB, PUSH_POLICY, CrmRecordRepository
from frontdesk.crm.summary import summarize
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure
from frontdesk.delivery.models import OutboxJob
from frontdesk.engine.leads import ContactRepository, LeadRepository
from frontdesk.security.crypto import SecretBox
from frontdesk.store.base import utcnow
from frontdesk.tenancy.store import TenantContextStore

PROVIDER: Final = "hubspot"
CONTACT_KEY: Final = "frontdesk_contact_id"
LEAD_KEY: Final = "frontdesk_lead_id"
log = structlog.get_logger("frontdesk.crm")
Lookup = Sequence[Sequence[tuple[str, str]]]


def contact_properties(lead: Lead, summary: Mapping[str, Any]) -> dict[str, str]:
    """What we know of the person, as HubSpot contact properties (only what we know: a
    property we do not send keeps what a person typed in HubSpot)."""
    known = summary["contact"]
    properties = {CONTACT_KEY: str(lead.contact_id)}
    if known.get("name"):
        first, _, last = str(known["name"]).partition(" ")
        properties["firstname"] = first
        if last:
            properties["lastname"] = last
    if known.get("email"):
        properties["email"] = str(known["email"])
    if known.get("phone"):
        properties["phone"] = str(known["phone"])
    return properties


def _amount(value: Any) -> str | None:
    if not isinstance(value, int | float) or value <= 0:
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def deal_properties(lead: Lead, summary: Mapping[str, Any]) -> dict[str, str]:
    """The deal: named after the service of interest and the person, its amount the budget."""
    who = summary["contact"].get("name") or f"lead {str(lead.id)[:8]}"
    what = summary["services"][0] if summary["services"] else "Front Desk"
    properties = {LEAD_KEY: str(lead.id), "dealname": f"{what} — {who}"[:200]}
    budget = summary.get("budget") or {}
    amount = _amount(budget.get("value"))
    if amount is not None:
        properties["amount"] = amount
        if budget.get("currency"):
            properties["deal_currency_code"] = str(budget["currency"])
    return properties


def note_body(summary: Mapping[str, Any]) -> str:
    """The summary as a note's body (HTML: HubSpot shows notes as rich text)."""
    return "<br>".join(html.escape(line) for line in str(summary["text"]).splitlines())


class HubSpotPusher:
    """The ``crm.push`` handler for HubSpot (its circuit: the tenant's HubSpot)."""

    kind = PUSH_JOB
    policy = PUSH_POLICY

    def __init__(self, box: SecretBox, tenants: TenantContextStore, client: HubSpotClient):
        self.box = box
        self.tenants = tenants
        self.client = client

    @staticmethod
    def destination(job: OutboxJob) -> str:
        return f"crm:{job.payload.get('provider', PROVIDER)}"

    async def __call__(self, session: AsyncSession, job: OutboxJob) -> None:
        tenant = await self.tenants.by_id(job.tenant_id, session=session)
        connection = tenant.channel(PROVIDER)
        if connection is None:
            raise PermanentFailure(f"{tenant.slug} has no active HubSpot connection")
        token = open_credentials(self.box, connection)["access_token"]
        options = HubSpotOptions.model_validate(connection.options)
        lead = await LeadRepository(session, tenant.id).get(uuid.UUID(job.payload["lead_id"]))
        if lead is None:
            log.info("crm.lead_gone", tenant=tenant.slug, job_id=str(job.id))
            return
        record = await CrmRecordRepository(session, tenant.id).claim(PROVIDER, lead.id)
        contact: Contact | None = await ContactRepository(session, tenant.id).get(lead.contact_id)
        conversation = (
            await ConversationRepository(session, tenant.id).get(lead.conversation_id)
            if lead.conversation_id
            else None
        )
        language = conversation.language if conversation else None
        summary = await summarize(session, tenant, lead, contact, language=language)
        sync = _Sync(self.client, token)

        person = contact_properties(lead, summary)
        record.contact_ref = await sync.upsert(
            "contacts",
            record.contact_ref,
            person,
            lookup=[[(CONTACT_KEY, str(lead.contact_id))]]
            + ([[("email", person["email"])]] if "email" in person else []),
            on_create={} if "firstname" in person else {"firstname": "Front Desk"},
        )
        stages: dict[str, str] = {str(k): v for k, v in options.stages.items()}
        stage = stages.get(lead.stage, stages["browsing"])
        deal = deal_properties(lead, summary)
        moved = {"dealstage": stage} if record.pushed_stage not in (None, stage) else {}
        record.deal_ref = await sync.upsert(
            "deals",
            record.deal_ref,
            deal | moved,
            lookup=[[(LEAD_KEY, str(lead.id))]],
            on_create={"pipeline": options.pipeline, "dealstage": stage},
            associations=[association("contacts", "deals", record.contact_ref)],
        )
        record.pushed_stage = stage
        record.note_ref = await sync.upsert(
            "notes",
            record.note_ref,
            {"hs_note_body": note_body(summary)},
            lookup=[[("associations.deal", record.deal_ref)]],
            accept=lambda found: str(lead.id) in str(found.get("hs_note_body") or ""),
            on_create={"hs_timestamp": str(int(utcnow().timestamp() * 1000))},
            associations=[
                association("contacts", "notes", record.contact_ref),
                association("deals", "notes", record.deal_ref),
            ],
        )
        record.pushes += 1
        record.pushed_at = utcnow()
        log.info("crm.pushed", tenant=tenant.slug, lead_id=str(lead.id), deal=record.deal_ref)


class _Sync:
    """Find-or-create-then-update, one HubSpot object at a time."""

    def __init__(self, client: HubSpotClient, token: str) -> None:
        self.client = client
        self.token = token

    async def upsert(
        self,
        object_type: ObjectType,
        known: str | None,
        properties: Mapping[str, str],
        *,
        lookup: Lookup,
        on_create: Mapping[str, str],
        associations: Sequence[dict[str, Any]] = (),
        accept: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> str:
        """The record's id, its properties set: the one we know, else the one a look-up finds,
        else a new one (a 409 naming the existing record counts as found)."""
        if known:
            try:
                await self.client.update(self.token, object_type, known, properties)
                return known
            except Gone:
                log.info("crm.record_gone", object_type=object_type, record=known)
        found = await self.find(object_type, lookup, accept)
        if found is None:
            try:
                return await self.client.create(
                    self.token, object_type, {**on_create, **properties}, associations
                )
            except Conflict as exc:
                found = exc.existing or await self.find(object_type, lookup, accept)
            if found is None:
                raise DeliveryFailed(
                    f"HubSpot says the {object_type[:-1]} exists but does not find it yet",
                    code="conflict",
                )
        await self.client.update(self.token, object_type, found, properties)
        return found

    async def find(
        self,
        object_type: ObjectType,
        lookup: Lookup,
        accept: Callable[[Mapping[str, Any]], bool] | None,
    ) -> str | None:
        wanted = ("hs_note_body",) if object_type == "notes" else ()
        for result in await self.client.search(self.token, object_type, lookup, properties=wanted):
            properties = result.get("properties") or {}
            if accept is None or accept(properties):
                return str(result["id"])
        return None

"""CRMs' events back in: HubSpot's webhooks (``/webhooks/hubspot``, signed with the
connection's client secret, the tenant from ``portalId``) and a tenant's own CRM
(``/webhooks/crm/{tenant}``, signed with Standard Webhooks and the tenant's ``crm`` secret).

A deal reaching a stage sends the customer the stage's message on their channel, once per
event: the message's idempotency key is the event's id.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from frontdesk.channels.connections import open_credentials
from frontdesk.crm import webhook as hubspot
from frontdesk.crm.schemas import HubSpotOptions
from frontdesk.crm.service import CrmRecordRepository, LeadNotFound, stage_reached
from frontdesk.engine.leads import LeadRepository
from frontdesk.errors import Invalid, Unauthorized
from frontdesk.gateway.deps import PathTenant, RuntimeDep, Session
from frontdesk.runtime import Runtime
from frontdesk.security.signatures import InvalidSignature, verify_request

router = APIRouter(prefix="/webhooks", tags=["provider webhooks"])
log = structlog.get_logger("frontdesk.crm")
Stage = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class StageChanged(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lead_id: uuid.UUID = Field(description="the lead, as our lead events named it")
    stage: Stage = Field(description="the deal's new stage, in the CRM's words")
    message: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="what to send the customer on their channel (nothing when absent)",
    )


class CrmEvent(BaseModel):
    """An event from the tenant's own CRM."""

    model_config = ConfigDict(extra="ignore")

    type: Annotated[str, StringConstraints(pattern=r"^deal\.stage_changed$")]
    data: StageChanged


class CrmEventAccepted(BaseModel):
    lead_id: uuid.UUID
    message_id: uuid.UUID | None
    duplicate: bool


@router.post("/hubspot")
async def hubspot_events(rt: RuntimeDep, session: Session, request: Request) -> dict[str, int]:
    """HubSpot's webhook notifications (deal stage changes), checked with the connection's
    client secret, each event acted on once."""
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid("the body is not JSON") from exc
    by_portal: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for event in hubspot.events(payload):
        by_portal[hubspot.portal_of(event)].append(event)
    uris = _uris(rt, request)
    counts = {"events": 0, "messages": 0, "duplicates": 0}
    verified_any = False
    for portal, events in by_portal.items():
        tenant = await rt.tenants.by_channel_account("hubspot", portal, session=session)
        connection = tenant.channel("hubspot") if tenant else None
        if tenant is None or connection is None:
            log.info("crm.hubspot_unknown_portal", portal=portal)
            continue
        try:
            hubspot.verify_hubspot_signature(
                open_credentials(rt.box, connection)["client_secret"],
                method=request.method,
                uris=uris,
                body=body,
                signature=request.headers.get(hubspot.SIGNATURE_HEADER),
                timestamp=request.headers.get(hubspot.TIMESTAMP_HEADER),
            )
        except InvalidSignature:
            log.warning("crm.hubspot_bad_signature", tenant=tenant.slug)
            continue
        verified_any = True
        if not tenant.active:
            continue
        options = HubSpotOptions.model_validate(connection.options)
        records = CrmRecordRepository(session, tenant.id)
        for event in events:
            change = hubspot.stage_change(event)
            counts["events"] += 1
            record = await records.by_deal("hubspot", change.deal_id) if change else None
            lead = await LeadRepository(session, tenant.id).get(record.lead_id) if record else None
            if change is None or record is None or lead is None:
                continue  # another kind of event, or a deal that is not one of our leads
            record.crm_stage = change.stage
            outcome = await stage_reached(
                session,
                tenant,
                lead,
                stage=change.stage,
                text=options.stage_messages.get(change.stage),
                key=change.key,
                events=rt.hub,
                needs_delivery=rt.channels.needs_delivery,
                detail={"provider": "hubspot", "deal_id": change.deal_id},
            )
            if outcome.message is not None:
                counts["duplicates" if outcome.duplicate else "messages"] += 1
    if by_portal and not verified_any:
        raise InvalidSignature("the signature does not match any connection it names")
    return counts


def _uris(rt: Runtime, request: Request) -> list[str]:
    """The URLs HubSpot may have signed: ours as the public sees it, and as we received it."""
    own = str(request.url)
    public = rt.settings.public_url
    if not public:
        return [own]
    query = f"?{request.url.query}" if request.url.query else ""
    return [public.rstrip("/") + request.url.path + query, own]


@router.post("/crm/{tenant}", status_code=202)
async def crm_event(
    rt: RuntimeDep, session: Session, request: Request, tenant: PathTenant
) -> CrmEventAccepted:
    """An event from the tenant's own CRM (``deal.stage_changed``), signed with Standard
    Webhooks using the tenant's ``crm`` secret; its ``webhook-id`` makes a retry send nothing
    new."""
    body = await request.body()
    secrets = await rt.secrets.active(session, tenant.id, purpose="crm")
    if not secrets:
        raise Unauthorized("the CRM channel has no signing secret: create one first")
    signed = verify_request(secrets, request.headers, body)
    try:
        event = CrmEvent.model_validate_json(body)
    except ValidationError as exc:
        fields = "; ".join(f"{'/'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Invalid(fields[:1000]) from exc
    lead = await LeadRepository(session, tenant.id).get(event.data.lead_id)
    if lead is None:
        raise LeadNotFound(f"no lead {event.data.lead_id}")
    outcome = await stage_reached(
        session,
        tenant,
        lead,
        stage=event.data.stage,
        text=event.data.message,
        key=f"webhook:{signed.msg_id}",
        events=rt.hub,
        needs_delivery=rt.channels.needs_delivery,
        detail={"provider": "webhook"},
    )
    message = outcome.message
    return CrmEventAccepted(
        lead_id=lead.id, message_id=message.id if message else None, duplicate=outcome.duplicate
    )

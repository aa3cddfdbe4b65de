"""CRM events back in: HubSpot's signed webhooks and a tenant's own signed CRM events move a
deal to a stage, and the customer gets that stage's message on their channel (web chat or
WhatsApp), once per event; the generic CRM receives our lead events with the conversation's
summary, signed with Standard Webhooks. Tenants never reach each other's leads."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
from standardwebhooks import Webhook

from frontdesk.crm.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, hubspot_signature
from frontdesk.delivery import webhooks
from frontdesk.runtime import Runtime
from frontdesk.security.secrets import create_secret
from frontdesk.security.signatures import sign_request
from tests.channels import meta
from tests.channels.fake_graph import FakeGraph
from tests.crm.fake_hubspot import FakeHubSpot
from tests.crm.support import (
    CLIENT_SECRET,
    READY_BUYER,
    Connected,
    connect_hubspot,
    converse,
    lead_of,
    record_of,
    settle,
)
from tests.delivery.receiver import Receiver
from tests.delivery.support import eventually, hooked_tenant
from tests.engine.conversations.harness import history
from tests.factories import SampleTenant, connect_whatsapp, make_tenant

URL = "/webhooks/hubspot"
PROPOSAL = "¡Hola! Te enviamos la propuesta a tu correo. ¿La revisamos juntos?"
OPTIONS = {"stage_messages": {"contractsent": PROPOSAL}}


def stage_event(portal_id: str, deal_id: str, stage: str, event_id: int = 4012) -> dict[str, Any]:
    """A deal-stage change as HubSpot's webhooks describe it."""
    return {
        "eventId": event_id,
        "subscriptionId": 2201,
        "portalId": int(portal_id),
        "appId": 1160452,
        "occurredAt": 1764100000000,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal_id),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM",
        "sourceId": "userId:8127361",
    }


async def post_hubspot(
    client: httpx.AsyncClient,
    events: list[dict[str, Any]],
    *,
    secret: str = CLIENT_SECRET,
    timestamp: str | None = None,
) -> httpx.Response:
    body = orjson.dumps(events)
    timestamp = timestamp or str(int(time.time() * 1000))
    signature = hubspot_signature(secret, "POST", f"http://testserver{URL}", body, timestamp)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature,
        TIMESTAMP_HEADER: timestamp,
    }
    return await client.post(URL, content=body, headers=headers)


async def pushed_deal(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot
) -> tuple[Connected, dict[str, Any], str]:
    """A tenant with HubSpot whose web chat became a lead pushed there: the connection, the
    chat and the deal's id."""
    tenant = await make_tenant(runtime)
    hs = await connect_hubspot(runtime, hubspot, tenant, options=OPTIONS)
    chat = await converse(client, hs.tenant, READY_BUYER[:2])
    await settle(runtime, hs.tenant.context.id)
    record = await record_of(runtime, (await lead_of(runtime, chat["conversation"]["id"])).id)
    assert record.deal_ref is not None
    return hs, chat, record.deal_ref


async def proposals(
    client: httpx.AsyncClient, tenant: SampleTenant, chat: dict[str, Any]
) -> list[dict[str, Any]]:
    """The stage message in the web chat's history (each time it was sent)."""
    return [m for m in await history(client, tenant, chat) if m["text"] == PROPOSAL]


async def test_a_deal_moved_in_hubspot_sends_the_stage_message_once_on_the_web_chat(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot
) -> None:
    hs, chat, deal_id = await pushed_deal(client, runtime, hubspot)
    tenant = hs.tenant
    events = [stage_event(hs.portal_id, deal_id, "contractsent")]

    first = await post_hubspot(client, events)
    assert first.status_code == 200, first.text
    assert first.json() == {"events": 1, "messages": 1, "duplicates": 0}
    again = await post_hubspot(client, events)  # HubSpot retries the same notification
    assert again.json() == {"events": 1, "messages": 0, "duplicates": 1}
    sent = await proposals(client, tenant, chat)
    assert len(sent) == 1
    assert sent[0]["direction"] == "out"
    record = await record_of(runtime, (await lead_of(runtime, chat["conversation"]["id"])).id)
    assert record.crm_stage == "contractsent"

    # A stage without a message, and an event of another kind, send nothing.
    quiet = [
        stage_event(hs.portal_id, deal_id, "closedwon", event_id=4013),
        {**stage_event(hs.portal_id, deal_id, "x", event_id=4014), "propertyName": "amount"},
    ]
    response = await post_hubspot(client, quiet)
    assert response.json() == {"events": 2, "messages": 0, "duplicates": 0}


async def test_hubspot_webhooks_with_bad_signatures_are_refused(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot
) -> None:
    hs, chat, deal_id = await pushed_deal(client, runtime, hubspot)
    tenant = hs.tenant
    events = [stage_event(hs.portal_id, deal_id, "contractsent")]
    forged = await post_hubspot(client, events, secret="not-the-client-secret")
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")
    stale = str(int((time.time() - 600) * 1000))
    assert (await post_hubspot(client, events, timestamp=stale)).status_code == 401
    unsigned = await client.post(URL, content=orjson.dumps(events))
    assert unsigned.status_code == 401
    broken = await client.post(URL, content=b"[{not json")
    assert broken.status_code == 422
    assert not await proposals(client, tenant, chat)


async def test_another_portal_cannot_move_this_tenants_deal(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot
) -> None:
    hs, chat, deal_id = await pushed_deal(client, runtime, hubspot)
    victim = hs.tenant
    attacker = await connect_hubspot(runtime, hubspot, await make_tenant(runtime), options=OPTIONS)
    # Signed correctly for the attacker's own portal, naming the victim's deal.
    response = await post_hubspot(
        client, [stage_event(attacker.portal_id, deal_id, "contractsent")]
    )
    assert response.status_code == 200
    assert response.json()["messages"] == 0
    assert not await proposals(client, victim, chat)


async def test_the_stage_message_goes_out_on_whatsapp(
    client: httpx.AsyncClient, runtime: Runtime, hubspot: FakeHubSpot, graph: FakeGraph
) -> None:
    tenant = await make_tenant(runtime)
    phone_number_id = await connect_whatsapp(runtime, tenant)
    hs = await connect_hubspot(runtime, hubspot, tenant, options=OPTIONS)
    for count, text in enumerate(READY_BUYER[:2], start=1):
        body, headers = meta.signed(meta.notification(phone_number_id, messages=[meta.text(text)]))
        assert (await client.post("/webhooks/whatsapp", content=body, headers=headers)).is_success
        await eventually(lambda n=count: len(graph.sent(phone_number_id)) >= n, within=15)
    await settle(runtime, tenant.context.id)
    [deal] = hs.portal.of("deals")
    response = await post_hubspot(client, [stage_event(hs.portal_id, deal.id, "contractsent")])
    assert response.json()["messages"] == 1
    await eventually(
        lambda: any(m.get("text", {}).get("body") == PROPOSAL for m in graph.sent(phone_number_id)),
        within=15,
    )
    await asyncio.sleep(0.3)
    proposals = [
        m for m in graph.sent(phone_number_id) if m.get("text", {}).get("body") == PROPOSAL
    ]
    assert len(proposals) == 1
    assert proposals[0]["to"] == "573001234567"


async def crm_secret(runtime: Runtime, tenant: SampleTenant) -> str:
    async with runtime.db.session() as session:
        issued = await create_secret(
            session, runtime.box, tenant.context.id, purpose="crm", actor="test"
        )
    return issued.value


async def post_crm(
    client: httpx.AsyncClient, tenant: SampleTenant, secret: str, event: dict[str, Any], msg_id: str
) -> httpx.Response:
    body = orjson.dumps(event)
    headers = sign_request(secret, body, msg_id=msg_id)
    return await client.post(
        f"/webhooks/crm/{tenant.slug}",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )


async def test_the_generic_crm_gets_signed_lead_events_with_the_summary_and_answers_with_stages(
    client: httpx.AsyncClient, local_hooks: Runtime, receiver: Receiver
) -> None:
    runtime = local_hooks
    hooked = await hooked_tenant(
        runtime, receiver, events=[webhooks.LEAD_CREATED, webhooks.LEAD_UPDATED]
    )
    chat = await converse(client, hooked.tenant, READY_BUYER)
    lead = await lead_of(runtime, chat["conversation"]["id"])
    await eventually(
        lambda: any(
            d.body["data"]["data"].get("email") == "ana@example.com"
            for d in receiver.accepted(webhooks.LEAD_UPDATED)
        )
    )
    created = receiver.accepted(webhooks.LEAD_CREATED)[0]
    # The receiver checked it with the official library; check again with the raw body.
    raw = orjson.dumps(created.body)
    assert Webhook(hooked.secret).verify(raw, created.headers) == created.body
    summary = created.body["data"]["summary"]
    assert summary["lead_id"] == str(lead.id)
    assert summary["conversation_id"] == chat["conversation"]["id"]
    assert summary["services"][0].startswith("Tienda virtual")
    assert summary["budget"]["value"] == 6_000_000
    assert summary["last_messages"][-1] == READY_BUYER[1]
    assert "Presupuesto" in summary["text"]
    latest = receiver.accepted(webhooks.LEAD_UPDATED)[-1].body["data"]["summary"]
    assert latest["contact"]["email"] == "ana@example.com"

    secret = await crm_secret(runtime, hooked.tenant)
    event = {
        "type": "deal.stage_changed",
        "data": {"lead_id": str(lead.id), "stage": "proposal_sent", "message": PROPOSAL},
    }
    first = await post_crm(client, hooked.tenant, secret, event, "msg_crm_1")
    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    again = await post_crm(client, hooked.tenant, secret, event, "msg_crm_1")
    assert again.status_code == 202
    assert again.json() == {**first.json(), "duplicate": True}
    sent = await proposals(client, hooked.tenant, chat)
    assert len(sent) == 1

    forged = await post_crm(client, hooked.tenant, "whsec_" + "A" * 43 + "=", event, "msg_crm_2")
    assert forged.status_code == 401
    invalid = await post_crm(client, hooked.tenant, secret, {"type": "nope"}, "msg_crm_3")
    assert invalid.status_code == 422

    # Another tenant, with a secret of its own, cannot reach this tenant's lead.
    other = await make_tenant(runtime)
    stranger = await post_crm(client, other, await crm_secret(runtime, other), event, "msg_crm_4")
    assert stranger.status_code == 404

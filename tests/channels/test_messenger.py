"""Messenger end to end over HTTP: Meta's webhooks in (handshake, signature, tenant by page id,
each event once), the engine's reply out through the fake Send API, receipts applied, echoes
ignored, provider errors retried or dead-lettered and replayed."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from frontdesk.channels import transfer
from frontdesk.channels.base import Outbound
from frontdesk.conversations import service as conversations
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.service import retry_dead
from frontdesk.engine.reply import Link, QuickReply, Reply, ServiceCard
from frontdesk.runtime import Runtime
from frontdesk.store.base import utcnow
from frontdesk.store.scope import system_scope
from tests.channels import meta
from tests.channels.fake_graph import FakeSendApi
from tests.channels.meta_messaging import (
    Connected,
    adapter_of,
    connect,
    customer,
    eventually,
    messages_of,
    post,
    send_api,
    stored,
)
from tests.factories import make_tenant

__all__ = ["send_api"]  # the fixture
URL = "/webhooks/messenger"


@pytest.fixture
async def page(runtime: Runtime) -> Connected:
    return await connect(runtime, "messenger")


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_the_handshake_echoes_the_challenge_for_a_connections_verify_token(
    client: httpx.AsyncClient, runtime: Runtime, kind: str
) -> None:
    await connect(runtime, kind)
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": meta.PAGE_CREDENTIALS["verify_token"],
        "hub.challenge": "1158201444",
    }
    response = await client.get(f"/webhooks/{kind}", params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"
    wrong = await client.get(
        f"/webhooks/{kind}", params=params | {"hub.verify_token": "not-the-token"}
    )
    assert wrong.status_code == 403
    assert wrong.headers["content-type"].startswith("application/problem+json")
    # This verify token opens nothing on another channel's route.
    other = await client.get("/webhooks/whatsapp", params=params)
    assert other.status_code == 403


async def test_a_text_is_stored_once_and_answered_once_as_a_response(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, page: Connected
) -> None:
    psid = customer()
    event = meta.message(page.account_id, "Hola, ¿cuánto cuesta una tienda virtual?", sender=psid)
    first = await post(client, "messenger", page.notification(event))
    assert first.status_code == 200, first.text
    assert first.json()["messages"] == 1
    again = await post(client, "messenger", page.notification(event))  # Meta retries
    assert again.json()["messages"] == 0
    assert again.json()["duplicates"] == 1
    await eventually(lambda: bool(send_api.sent(psid)))
    await asyncio.sleep(0.3)  # room for a wrong second reply to show up
    rows = await stored(runtime, page.tenant, lambda r: any(m.provider_id for m in r))
    assert [(m.direction, m.channel) for m in rows] == [("in", "messenger"), ("out", "messenger")]
    assert rows[0].external_id == event["message"]["mid"]
    sent = send_api.sent(psid)
    assert len(sent) == len(
        adapter_of(runtime, "messenger").render(Reply.from_dict(rows[1].payload))
    )
    assert all(body["messaging_type"] == "RESPONSE" and "tag" not in body for body in sent)
    assert all(body["recipient"] == {"id": psid} for body in sent)
    assert set(send_api.senders(psid)) == {page.account_id}  # POST /{page-id}/messages
    assert all(len(m.get("text", "")) <= 2000 for m in send_api.messages(psid))
    assert send_api.actions(psid) == ["mark_seen", "typing_on"]
    assert rows[1].status == "sent"
    assert rows[1].provider_id == send_api.mids(psid)[0]


async def test_each_kind_of_inbound_event_is_stored_once(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, page: Connected
) -> None:
    psid = customer()
    image = "https://scontent.xx.fbcdn.net/v/t1.15752-9/foto.jpg"
    events = [
        meta.quick_reply(page.account_id, "Diseño web", "service:web", sender=psid),
        meta.postback(page.account_id, "Me interesa", "service:seo", sender=psid),
        meta.attachment(page.account_id, "image", image, sender=psid),
        meta.attachment(page.account_id, "video", "https://video.xx.fbcdn.net/v.mp4", sender=psid),
        meta.attachment(page.account_id, "audio", "https://cdn.fbsbx.com/v/audio.mp4", sender=psid),
        meta.attachment(page.account_id, "file", "https://cdn.fbsbx.com/v/brief.pdf", sender=psid),
        meta.message(
            page.account_id,
            sender=psid,
            attachments=[
                {"type": "fallback", "title": "Nuestro sitio", "url": "https://example.com/x"}
            ],
        ),
    ]
    payload = page.notification(*events)
    first = await post(client, "messenger", payload)
    assert first.status_code == 200, first.text
    assert first.json()["messages"] == len(events)
    again = await post(client, "messenger", payload)
    assert again.json()["duplicates"] == len(events)
    assert again.json()["messages"] == 0
    rows = [m for m in await messages_of(runtime, page.tenant) if m.direction == "in"]
    assert len(rows) == len(events)
    by_id = {m.external_id: m for m in rows}
    quick = by_id[events[0]["message"]["mid"]]
    assert (quick.text, quick.payload["kind"], quick.payload["payload"]) == (
        "Diseño web",
        "quick_reply",
        "service:web",
    )
    postback = by_id[events[1]["postback"]["mid"]]
    assert (postback.text, postback.payload["kind"]) == ("Me interesa", "postback")
    assert postback.payload["payload"] == "service:seo"
    media = [by_id[e["message"]["mid"]] for e in events[2:6]]
    assert [m.payload["media_type"] for m in media] == ["image", "video", "audio", "file"]
    assert [m.text for m in media] == ["[image]", "[video]", "[audio]", "[file]"]
    assert media[0].payload["url"] == image
    fallback = by_id[events[6]["message"]["mid"]]
    assert (fallback.text, fallback.payload["media_type"]) == ("Nuestro sitio", "fallback")


async def test_echoes_of_our_own_messages_are_ignored(
    client: httpx.AsyncClient, runtime: Runtime, page: Connected
) -> None:
    response = await post(
        client, "messenger", page.notification(meta.echo(page.account_id, customer(), "Hola"))
    )
    assert response.status_code == 200
    assert response.json()["echoes"] == 1
    assert response.json()["messages"] == 0
    assert await messages_of(runtime, page.tenant) == []


async def test_receipts_move_our_message_forward_and_reactions_and_deletions_are_kept(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, page: Connected
) -> None:
    psid = customer()
    said = meta.message(page.account_id, "hola", sender=psid)
    await post(client, "messenger", page.notification(said))
    rows = await stored(runtime, page.tenant, lambda r: any(m.provider_id for m in r))
    out = next(m for m in rows if m.direction == "out")
    assert out.provider_id is not None
    later = int(time.time() * 1000) + 5_000
    # Read first (by watermark, as Messenger reports it), then a late delivery: still read.
    read = meta.read(page.account_id, watermark=later, sender=psid)
    assert (await post(client, "messenger", page.notification(read))).json()["statuses"] >= 1
    delivered = meta.delivery(page.account_id, [out.provider_id], later, sender=psid)
    await post(client, "messenger", page.notification(delivered))
    reaction = meta.reaction(page.account_id, out.provider_id, sender=psid)
    await post(client, "messenger", page.notification(reaction))
    gone = meta.deleted(page.account_id, said["message"]["mid"], sender=psid)
    answer = await post(client, "messenger", page.notification(gone))
    assert answer.json()["deleted"] == 1
    rows = await messages_of(runtime, page.tenant)
    inbound, out = rows[0], next(m for m in rows if m.direction == "out")
    assert out.status == "read"
    assert out.payload["reaction"] == "\u2764\ufe0f"
    assert inbound.text == ""
    assert inbound.payload["deleted"] is True
    # A retried deletion changes nothing more.
    assert (await post(client, "messenger", page.notification(gone))).json()["deleted"] == 0


async def test_a_delivery_naming_its_messages_marks_only_those(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, page: Connected
) -> None:
    psid = customer()
    await post(
        client, "messenger", page.notification(meta.message(page.account_id, "hola", sender=psid))
    )
    rows = await stored(runtime, page.tenant, lambda r: any(m.provider_id for m in r))
    out = next(m for m in rows if m.direction == "out")
    assert out.provider_id is not None
    receipt = meta.delivery(page.account_id, [out.provider_id], 0, sender=psid)
    assert (await post(client, "messenger", page.notification(receipt))).json()["statuses"] == 1
    out = next(m for m in await messages_of(runtime, page.tenant) if m.direction == "out")
    assert out.status == "delivered"


async def test_a_bad_signature_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, runtime: Runtime, page: Connected
) -> None:
    payload = page.notification(meta.message(page.account_id, "hola", sender=customer()))
    refused = await post(client, "messenger", payload, secret="another-apps-secret")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    body, _ = meta.signed(payload)
    unsigned = await client.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert await messages_of(runtime, page.tenant) == []


async def test_unknown_pages_and_other_objects(
    client: httpx.AsyncClient, runtime: Runtime, page: Connected
) -> None:
    stranger = meta.messaging("page", "999999999", meta.message("999999999", "hola"))
    assert (await post(client, "messenger", stranger)).status_code == 401  # nobody to check it
    # An entry of an unknown page beside a known one: the known one is stored, the other ignored.
    mixed = page.notification(meta.message(page.account_id, "hola", sender=customer()))
    mixed["entry"] += stranger["entry"]
    response = await post(client, "messenger", mixed)
    assert response.status_code == 200
    assert response.json()["messages"] == 1
    instagram = meta.messaging("instagram", page.account_id, meta.message(page.account_id, "x"))
    assert (await post(client, "messenger", instagram)).json()["messages"] == 0
    broken = await client.post(
        URL, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422


async def test_two_tenants_pages_are_isolated(client: httpx.AsyncClient, runtime: Runtime) -> None:
    victim = await connect(runtime, "messenger")
    attacker = await connect(
        runtime, "messenger", credentials=meta.PAGE_CREDENTIALS | {"app_secret": "attackers-secret"}
    )
    psid = customer()
    forged = victim.notification(meta.message(victim.account_id, "hola", sender=psid))
    assert (await post(client, "messenger", forged, secret="attackers-secret")).status_code == 401
    assert await messages_of(runtime, victim.tenant) == []
    # The same person writing to both pages is two contacts, one per tenant.
    await post(client, "messenger", forged)
    mine = attacker.notification(meta.message(attacker.account_id, "hola", sender=psid))
    await post(client, "messenger", mine, secret="attackers-secret")
    victims, attackers = (
        await messages_of(runtime, victim.tenant),
        await messages_of(runtime, attacker.tenant),
    )
    assert [m.tenant_id for m in victims if m.direction == "in"] == [victim.tenant.context.id]
    assert [m.tenant_id for m in attackers if m.direction == "in"] == [attacker.tenant.context.id]
    assert {m.conversation_id for m in victims}.isdisjoint({m.conversation_id for m in attackers})


async def test_429_and_5xx_are_retried_and_the_reply_sent_once(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, page: Connected
) -> None:
    psid = customer()
    send_api.fail(psid, 429, 613, retry_after="0")
    send_api.fail(psid, 500, 1200)  # temporary send message failure
    send_api.fail(psid, 503)
    await post(
        client, "messenger", page.notification(meta.message(page.account_id, "hola", sender=psid))
    )
    await eventually(lambda: bool(send_api.sent(psid)), within=40)
    rows = await stored(
        runtime, page.tenant, lambda r: any(m.status == "sent" for m in r), within=40
    )
    out = next(m for m in rows if m.direction == "out")
    parts = len(adapter_of(runtime, "messenger").render(Reply.from_dict(out.payload)))
    await asyncio.sleep(0.3)
    assert len(send_api.sent(psid)) == parts  # each part once
    assert len(send_api.refused(psid)) == 3


async def test_a_provider_outage_delays_the_reply_and_loses_nothing(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, page: Connected
) -> None:
    psid = customer()
    send_api.down.add(psid)
    await post(
        client, "messenger", page.notification(meta.message(page.account_id, "hola", sender=psid))
    )
    await eventually(lambda: len(send_api.refused(psid)) >= 2, within=30)
    assert send_api.sent(psid) == []
    send_api.down.discard(psid)
    await eventually(lambda: bool(send_api.sent(psid)), within=60)
    rows = await stored(
        runtime, page.tenant, lambda r: any(m.status == "sent" for m in r), within=20
    )
    assert [m.direction for m in rows] == ["in", "out"]


async def test_a_refused_send_is_a_dead_letter_marked_failed_and_replayed(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, page: Connected
) -> None:
    psid = customer()
    send_api.fail(psid, 400, 551, subcode=1545041)  # this person isn't available right now
    await post(
        client, "messenger", page.notification(meta.message(page.account_id, "hola", sender=psid))
    )
    rows = await stored(runtime, page.tenant, lambda r: any(m.status == "failed" for m in r))
    failed = next(m for m in rows if m.direction == "out")
    assert failed.payload["error"]["code"] == "551"
    assert send_api.sent(psid) == []
    async with runtime.db.session() as session, system_scope(session):
        dead = (
            await session.scalars(
                select(OutboxJob).where(
                    OutboxJob.tenant_id == page.tenant.context.id, OutboxJob.status == "dead"
                )
            )
        ).all()
    assert [job.payload["message_id"] for job in dead] == [str(failed.id)]
    async with runtime.db.session() as session, system_scope(session):  # frontdesk jobs retry
        assert await retry_dead(session, job_ids=[dead[0].id]) == [dead[0].id]
    await eventually(lambda: bool(send_api.sent(psid)), within=20)
    rows = await stored(runtime, page.tenant, lambda r: any(m.status == "sent" for m in r))
    assert next(m for m in rows if m.direction == "out").provider_id == send_api.mids(psid)[0]


async def test_outside_the_window_the_reply_is_held_or_a_persons_answer_tagged(
    runtime: Runtime, send_api: FakeSendApi
) -> None:
    adapter = adapter_of(runtime, "messenger")
    plain = await connect(runtime, "messenger")
    tagged = await connect(runtime, "messenger", options={"human_agent_tag": True})
    psid = customer()

    def stale(hours: float, sender: str = "assistant") -> Outbound:
        return Outbound(
            message_id=uuid.uuid4(),
            reply=Reply(text="Hola de nuevo", language="es"),
            recipient=psid,
            last_customer_at=utcnow() - timedelta(hours=hours),
            sender=sender,
        )

    plain_tenant = await runtime.tenants.by_id(plain.tenant.context.id)
    tagged_tenant = await runtime.tenants.by_id(tagged.tenant.context.id)
    assert (await adapter.send(plain_tenant, stale(25, "agent"))).status == "held"
    assert (await adapter.send(tagged_tenant, stale(25))).status == "held"  # the assistant: no
    assert (await adapter.send(tagged_tenant, stale(24 * 8, "agent"))).status == "held"
    assert send_api.sent(psid) == []
    result = await adapter.send(tagged_tenant, stale(30, "agent"))
    assert (result.status, result.note) == ("sent", "human_agent")
    [body] = send_api.sent(psid)
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert send_api.actions(psid) == []  # no typing outside the window
    # Meta's own clock says the window closed: held, not failed.
    send_api.fail(psid, 400, 10, subcode=2018278)
    fresh = Outbound(uuid.uuid4(), Reply(text="Hola", language="es"), psid, utcnow())
    assert (await adapter.send(plain_tenant, fresh)).status == "held"


async def test_a_reply_is_rendered_within_messengers_limits(
    runtime: Runtime, send_api: FakeSendApi, page: Connected
) -> None:
    adapter = adapter_of(runtime, "messenger")
    psid = customer()
    reply = Reply(
        text="Hacemos tiendas virtuales. " * 120,
        language="es",
        quick_replies=tuple(
            QuickReply(f"Opción número {n} muy larga", f"opt:{n}") for n in range(15)
        ),
        cards=(ServiceCard("web", "Sitio web", "Tu página profesional", "$1.800.000"),),
        links=(Link("Portafolio", "https://colombiatic.example/portafolio"),),
    )
    tenant = await runtime.tenants.by_id(page.tenant.context.id)
    outbound = Outbound(uuid.uuid4(), reply, psid, utcnow())
    result = await adapter.send(tenant, outbound)
    messages = send_api.messages(psid)
    assert result.parts == len(messages) >= 3
    generic = messages[0]["attachment"]["payload"]
    assert generic["template_type"] == "generic"
    assert generic["elements"][0]["buttons"][0] == {
        "type": "postback",
        "title": "Me interesa",
        "payload": "service:web",
    }
    texts = [m["text"] for m in messages if "text" in m]
    assert texts
    assert all(1 <= len(t) <= 2000 for t in texts)
    last = messages[-1]
    template = last["attachment"]["payload"]
    assert template["template_type"] == "button"
    assert template["buttons"] == [
        {"type": "web_url", "url": "https://colombiatic.example/portafolio", "title": "Portafolio"}
    ]
    assert len(template["text"]) <= 640
    assert len(last["quick_replies"]) == 13
    assert all(len(q["title"]) <= 20 for q in last["quick_replies"])
    assert last["quick_replies"][0]["payload"] == "opt:0"


async def test_a_transfer_code_is_redeemed_only_on_the_channel_it_was_issued_for(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi
) -> None:
    from tests.factories import connect_whatsapp

    tenant = await make_tenant(runtime)
    await connect_whatsapp(runtime, tenant)
    page = await connect(runtime, "messenger", tenant)
    context = await runtime.tenants.by_id(tenant.context.id)
    async with runtime.db.session() as session:
        ref = await conversations.conversation_for_identity(
            session, context, channel="webchat", external_id=f"visitor-{uuid.uuid4()}"
        )
        web = await conversations.get_conversation(session, context, ref.id)
        issued = await transfer.issue(session, context, web)
        web_id = web.id
    psid = customer()
    text = f"Hola, quiero continuar. Código: {issued.code}"
    response = await post(
        client, "messenger", page.notification(meta.message(page.account_id, text, sender=psid))
    )
    assert response.status_code == 200
    rows = [m for m in await messages_of(runtime, tenant) if m.channel == "messenger"]
    assert rows
    assert all(m.conversation_id != web_id for m in rows)
    assert "transferred_from" not in rows[0].payload
    async with runtime.db.session() as session, system_scope(session):
        conversation = await conversations.get_conversation(session, context, web_id)
        assert conversation.channel == "webchat"  # not moved to Messenger

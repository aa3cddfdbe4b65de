"""WhatsApp end to end: Meta's webhooks in (handshake, signature, tenant by phone-number id,
each message once), the engine's reply out through the Graph API, status events in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdesk.conversations.models import Message
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.channels import meta
from tests.channels.fake_graph import FakeGraph
from tests.factories import WHATSAPP_CREDENTIALS, SampleTenant, connect_whatsapp, make_tenant

URL = "/webhooks/whatsapp"


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def messages_of(runtime: Runtime, tenant: SampleTenant) -> list[Message]:
    async with runtime.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(Message).where(Message.tenant_id == tenant.context.id).order_by(Message.seq)
        )
        return list(rows)


async def post(
    client: httpx.AsyncClient, payload: dict[str, Any], secret: str | None = None
) -> httpx.Response:
    body, headers = meta.signed(payload, secret)
    return await client.post(URL, content=body, headers=headers)


async def sent_reply(runtime: Runtime, tenant: SampleTenant, within: float = 10.0) -> Message:
    """The tenant's first outbound message, once the provider has accepted it."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        rows = await messages_of(runtime, tenant)
        out = next((m for m in rows if m.direction == "out" and m.provider_id), None)
        if out is not None:
            return out
        await asyncio.sleep(0.02)
    raise AssertionError("no reply was sent")


@pytest.fixture
async def connected(runtime: Runtime) -> tuple[SampleTenant, str]:
    tenant = await make_tenant(runtime)
    return tenant, await connect_whatsapp(runtime, tenant)


async def test_handshake_echoes_the_challenge_for_a_connections_verify_token(
    client: httpx.AsyncClient, connected: tuple[SampleTenant, str]
) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": WHATSAPP_CREDENTIALS["verify_token"],
        "hub.challenge": "1158201444",
    }
    response = await client.get(URL, params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"
    wrong = await client.get(URL, params=params | {"hub.verify_token": "not-the-token"})
    assert wrong.status_code == 403
    assert wrong.headers["content-type"].startswith("application/problem+json")


async def test_a_text_message_is_stored_once_answered_once_and_marked_read(
    client: httpx.AsyncClient,
    runtime: Runtime,
    graph: FakeGraph,
    connected: tuple[SampleTenant, str],
) -> None:
    tenant, phone_number_id = connected
    inbound = meta.text("Hola, cuanto cuesta una tienda virtual?")
    payload = meta.notification(phone_number_id, messages=[inbound])
    first = await post(client, payload)
    assert first.status_code == 200, first.text
    assert first.json()["messages"] == 1
    # Meta retries the same notification: nothing new is stored or sent.
    again = await post(client, payload)
    assert again.json() == {"messages": 0, "statuses": 0, "duplicates": 1}
    await eventually(lambda: graph.sent(phone_number_id))
    await asyncio.sleep(0.3)  # room for a wrong second reply to show up
    assert len(graph.sent(phone_number_id)) == 1
    sent = graph.sent(phone_number_id)[0]
    assert sent["to"] == "573001234567"
    assert sent["messaging_product"] == "whatsapp"
    assert graph.read_receipts(phone_number_id) == [inbound["id"]]
    await sent_reply(runtime, tenant)
    rows = await messages_of(runtime, tenant)
    assert [(m.direction, m.channel) for m in rows] == [("in", "whatsapp"), ("out", "whatsapp")]
    assert rows[0].external_id == inbound["id"]
    assert rows[1].status == "sent"
    assert rows[1].provider_id == graph.wamids(phone_number_id)[0]


async def test_status_events_move_a_message_forward_only(
    client: httpx.AsyncClient,
    runtime: Runtime,
    graph: FakeGraph,
    connected: tuple[SampleTenant, str],
) -> None:
    tenant, phone_number_id = connected
    await post(client, meta.notification(phone_number_id, messages=[meta.text("hola")]))
    out = await sent_reply(runtime, tenant)
    assert out.provider_id is not None
    for state in ("read", "delivered", "sent"):  # out of order: read arrives first
        response = await post(
            client,
            meta.notification(phone_number_id, statuses=[meta.status(out.provider_id, state)]),
        )
        assert response.status_code == 200
    out = next(m for m in await messages_of(runtime, tenant) if m.direction == "out")
    assert out.status == "read"
    failed = await post(
        client,
        meta.notification(
            phone_number_id, statuses=[meta.status(out.provider_id, "failed", error_code=131026)]
        ),
    )
    assert failed.status_code == 200
    out = next(m for m in await messages_of(runtime, tenant) if m.direction == "out")
    assert out.status == "failed"
    assert out.payload["error"]["code"] == "131026"


async def test_a_bad_signature_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, runtime: Runtime, connected: tuple[SampleTenant, str]
) -> None:
    tenant, phone_number_id = connected
    payload = meta.notification(phone_number_id, messages=[meta.text("hola")])
    response = await post(client, payload, secret="another-apps-secret")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body, _headers = meta.signed(payload)
    unsigned = await client.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert await messages_of(runtime, tenant) == []


async def test_another_tenants_secret_does_not_open_this_tenants_number(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    victim = await make_tenant(runtime)
    victim_number = await connect_whatsapp(runtime, victim)
    attacker = await make_tenant(runtime)
    await connect_whatsapp(
        runtime, attacker, credentials=WHATSAPP_CREDENTIALS | {"app_secret": "attackers-own-secret"}
    )
    payload = meta.notification(victim_number, messages=[meta.text("hola")])
    response = await post(client, payload, secret="attackers-own-secret")
    assert response.status_code == 401
    assert await messages_of(runtime, victim) == []


async def test_unknown_numbers_and_malformed_bodies(client: httpx.AsyncClient) -> None:
    unknown = await post(client, meta.notification("999999999", messages=[meta.text("hola")]))
    assert unknown.status_code == 401  # nothing it names could check the signature
    broken = await client.post(
        URL, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    other = await post(client, {"object": "page", "entry": []})
    assert other.status_code == 200
    assert other.json()["messages"] == 0


async def test_provider_429_and_5xx_are_retried_and_the_reply_sent_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    graph: FakeGraph,
    connected: tuple[SampleTenant, str],
) -> None:
    _tenant, phone_number_id = connected
    graph.fail(phone_number_id, 429, 130429, retry_after="0")
    graph.fail(phone_number_id, 503, times=2)
    await post(client, meta.notification(phone_number_id, messages=[meta.text("hola")]))
    await eventually(lambda: graph.sent(phone_number_id), within=30)
    await asyncio.sleep(0.3)
    assert len(graph.sent(phone_number_id)) == 1
    assert len(graph.refused(phone_number_id)) == 3


async def test_an_invalid_token_dead_letters_the_send_and_marks_the_message_failed(
    client: httpx.AsyncClient, runtime: Runtime, graph: FakeGraph
) -> None:
    tenant = await make_tenant(runtime)
    phone_number_id = await connect_whatsapp(
        runtime, tenant, credentials=WHATSAPP_CREDENTIALS | {"access_token": "EAAG-expired-token"}
    )
    await post(client, meta.notification(phone_number_id, messages=[meta.text("hola")]))

    async def failed() -> bool:
        rows = await messages_of(runtime, tenant)
        return any(m.direction == "out" and m.status == "failed" for m in rows)

    deadline = asyncio.get_running_loop().time() + 10
    while not await failed():
        assert asyncio.get_running_loop().time() < deadline, "the message was not marked failed"
        await asyncio.sleep(0.05)
    assert graph.sent(phone_number_id) == []


async def test_outside_the_24_hour_window_the_reply_is_held_or_a_template_goes(
    runtime: Runtime, graph: FakeGraph
) -> None:
    from datetime import timedelta

    from frontdesk.channels.base import Outbound
    from frontdesk.channels.whatsapp.adapter import WhatsAppAdapter
    from frontdesk.engine.reply import Reply
    from frontdesk.store.base import utcnow
    from tests.factories import make_tenant as new_tenant

    adapter = runtime.channels.get("whatsapp")
    assert isinstance(adapter, WhatsAppAdapter)
    plain = await new_tenant(runtime)
    plain_number = await connect_whatsapp(runtime, plain)
    templated = await new_tenant(runtime)
    templated_number = await connect_whatsapp(
        runtime,
        templated,
        options={"phone_number": "573001112233", "reengagement_template": "retomar_conversacion"},
    )
    stale = Outbound(
        message_id=uuid.uuid4(),
        reply=Reply(text="Hola de nuevo", language="es"),
        recipient="573001234567",
        last_customer_at=utcnow() - timedelta(hours=25),
    )
    held = await adapter.send(await runtime.tenants.by_id(plain.context.id), stale)
    assert held.status == "held"
    assert graph.sent(plain_number) == []
    via_template = await adapter.send(await runtime.tenants.by_id(templated.context.id), stale)
    assert via_template.note == "template"
    assert graph.sent(templated_number) == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "573001234567",
            "type": "template",
            "template": {"name": "retomar_conversacion", "language": {"code": "es"}},
        }
    ]


async def test_media_is_fetched_from_the_provider_when_asked_for(
    client: httpx.AsyncClient,
    runtime: Runtime,
    graph: FakeGraph,
    connected: tuple[SampleTenant, str],
) -> None:
    from tests.factories import make_secret_key

    tenant, phone_number_id = connected
    graph.media["4490709327"] = (b"\x89PNG fake image bytes", "image/png")
    image = {
        "from": "573001234567",
        "id": meta.wamid(),
        "timestamp": "1764100000",
        "type": "image",
        "image": {
            "id": "4490709327",
            "mime_type": "image/png",
            "sha256": "x",
            "caption": "mi logo",
        },
    }
    await post(client, meta.notification(phone_number_id, messages=[image]))
    stored = next(m for m in await messages_of(runtime, tenant) if m.direction == "in")
    assert stored.text == "mi logo"
    headers = {"Authorization": f"Bearer {await make_secret_key(runtime, tenant)}"}
    url = f"/v1/conversations/{stored.conversation_id}/messages/{stored.id}/media"
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.content == b"\x89PNG fake image bytes"
    assert response.headers["content-type"] == "image/png"
    other = await make_tenant(runtime)
    stranger = {"Authorization": f"Bearer {await make_secret_key(runtime, other)}"}
    assert (await client.get(url, headers=stranger)).status_code == 404


async def test_a_persons_answer_with_a_document_goes_out_on_whatsapp(
    client: httpx.AsyncClient,
    runtime: Runtime,
    graph: FakeGraph,
    connected: tuple[SampleTenant, str],
) -> None:
    from tests.factories import make_secret_key

    tenant, phone_number_id = connected
    await post(client, meta.notification(phone_number_id, messages=[meta.text("hola")]))
    first = await sent_reply(runtime, tenant)
    headers = {"Authorization": f"Bearer {await make_secret_key(runtime, tenant)}"}
    answer = await client.post(
        f"/v1/conversations/{first.conversation_id}/messages",
        json={
            "text": "Te comparto nuestro portafolio.",
            "agent": "Laura",
            "media": [
                {
                    "kind": "document",
                    "url": "https://cdn.colombiatic.example/portafolio.pdf",
                    "caption": "Portafolio 2026",
                    "filename": "portafolio.pdf",
                }
            ],
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    await eventually(lambda: len(graph.sent(phone_number_id)) >= 3)
    document, text = graph.sent(phone_number_id)[1:3]
    assert document["type"] == "document"
    assert document["document"]["link"] == "https://cdn.colombiatic.example/portafolio.pdf"
    assert document["to"] == "573001234567"
    assert text["text"]["body"] == "Te comparto nuestro portafolio."
    refused = await client.post(
        f"/v1/conversations/{first.conversation_id}/messages",
        json={
            "text": "x",
            "agent": "Laura",
            "media": [{"kind": "image", "url": "http://plain.example/a.png"}],
        },
        headers=headers,
    )
    assert refused.status_code == 422

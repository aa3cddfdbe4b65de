"""Instagram Direct end to end over HTTP: Meta's webhooks in (tenant by Instagram account id),
story mentions and replies, unsent messages, receipts by message, echoes ignored; replies out
through the fake Send API within 1,000 bytes of text."""

from __future__ import annotations

import uuid

import httpx
import pytest

from frontdesk.channels.base import Outbound
from frontdesk.engine.reply import Link, QuickReply, Reply
from frontdesk.runtime import Runtime
from frontdesk.store.base import utcnow
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

__all__ = ["send_api"]  # the fixture
STORY = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17895695668004550"


@pytest.fixture
async def account(runtime: Runtime) -> Connected:
    return await connect(runtime, "instagram")


async def test_a_message_is_stored_once_and_answered_through_me(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, account: Connected
) -> None:
    igsid = customer()
    event = meta.message(account.account_id, "Hola! precios de diseño web?", sender=igsid)
    for _ in range(2):  # Meta retries
        response = await post(client, "instagram", account.notification(event))
        assert response.status_code == 200, response.text
    assert response.json()["duplicates"] == 1
    await eventually(lambda: bool(send_api.sent(igsid)))
    rows = await stored(runtime, account.tenant, lambda r: any(m.provider_id for m in r))
    assert [(m.direction, m.channel) for m in rows] == [("in", "instagram"), ("out", "instagram")]
    assert set(send_api.senders(igsid)) == {"me"}  # no linked page named: the token's account
    assert all(b["messaging_type"] == "RESPONSE" for b in send_api.sent(igsid))
    assert all(len(m["text"].encode()) <= 1000 for m in send_api.messages(igsid) if "text" in m)


async def test_story_mentions_replies_and_unsent_messages(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, account: Connected
) -> None:
    igsid = customer()
    mention = meta.message(
        account.account_id,
        sender=igsid,
        attachments=[{"type": "story_mention", "payload": {"url": STORY}}],
    )
    reply = meta.message(
        account.account_id,
        "¡Qué buena historia!",
        sender=igsid,
        reply_to={"story": {"url": STORY, "id": "17895695668004550"}},
    )
    share = meta.attachment(
        account.account_id, "ig_reel", "https://www.instagram.com/reel/x", sender=igsid
    )
    payload = account.notification(mention, reply, share)
    assert (await post(client, "instagram", payload)).json()["messages"] == 3
    assert (await post(client, "instagram", payload)).json()["duplicates"] == 3
    rows = {m.external_id: m for m in await messages_of(runtime, account.tenant)}
    stored_mention = rows[mention["message"]["mid"]]
    assert (stored_mention.text, stored_mention.payload["kind"]) == (
        "[story mention]",
        "story_mention",
    )
    assert stored_mention.payload["story_url"] == STORY
    stored_reply = rows[reply["message"]["mid"]]
    assert stored_reply.payload["kind"] == "story_reply"
    assert stored_reply.payload["story_id"] == "17895695668004550"
    assert stored_reply.text == "¡Qué buena historia!"
    assert rows[share["message"]["mid"]].payload["media_type"] == "ig_reel"
    unsent = meta.deleted(account.account_id, reply["message"]["mid"], sender=igsid)
    assert (await post(client, "instagram", account.notification(unsent))).json()["deleted"] == 1
    gone = next(m for m in await messages_of(runtime, account.tenant) if m.id == stored_reply.id)
    assert gone.text == ""
    assert gone.payload["deleted"] is True
    assert "story_url" not in gone.payload


async def test_seen_receipts_name_the_message_and_echoes_are_ignored(
    client: httpx.AsyncClient, runtime: Runtime, send_api: FakeSendApi, account: Connected
) -> None:
    igsid = customer()
    await post(
        client,
        "instagram",
        account.notification(meta.message(account.account_id, "hola", sender=igsid)),
    )
    rows = await stored(runtime, account.tenant, lambda r: any(m.provider_id for m in r))
    out = next(m for m in rows if m.direction == "out")
    seen = meta.read(account.account_id, message_id=out.provider_id, sender=igsid)
    echo = meta.echo(account.account_id, igsid, "respuesta")
    answer = await post(client, "instagram", account.notification(seen, echo))
    assert answer.json()["statuses"] == 1
    assert answer.json()["echoes"] == 1
    rows = await messages_of(runtime, account.tenant)
    assert [m.direction for m in rows] == ["in", "out"]
    assert rows[1].status == "read"


async def test_a_messenger_notification_is_not_taken_on_the_instagram_route(
    client: httpx.AsyncClient, runtime: Runtime, account: Connected
) -> None:
    page_shaped = meta.messaging("page", account.account_id, meta.message(account.account_id, "x"))
    assert (await post(client, "instagram", page_shaped)).json()["messages"] == 0
    assert await messages_of(runtime, account.tenant) == []


async def test_replies_fit_in_1000_bytes_and_go_through_the_linked_page(
    runtime: Runtime, send_api: FakeSendApi
) -> None:
    linked = await connect(runtime, "instagram", options={"page_id": "104729551234567"})
    tenant = await runtime.tenants.by_id(linked.tenant.context.id)
    igsid = customer()
    text = "Diseñamos tu tienda en línea con pagos en pesos 🇨🇴 y envíos a toda Colombia. " * 40
    reply = Reply(
        text=text,
        language="es",
        quick_replies=tuple(QuickReply(f"Opción {n}", f"opt:{n}") for n in range(15)),
        links=(Link("Portafolio", "https://colombiatic.example/portafolio"),),
    )
    result = await adapter_of(runtime, "instagram").send(
        tenant, Outbound(uuid.uuid4(), reply, igsid, utcnow())
    )
    messages = send_api.messages(igsid)
    assert result.parts == len(messages) > 1
    assert set(send_api.senders(igsid)) == {"104729551234567"}
    assert all("text" in m for m in messages)  # Instagram: no button template
    assert all(1 <= len(m["text"].encode()) <= 1000 for m in messages)
    assert max(len(m["text"]) for m in messages) < 1000  # characters are not the limit
    assert "https://colombiatic.example/portafolio" in messages[-1]["text"]
    assert len(messages[-1]["quick_replies"]) == 13
    assert "".join("".join(m["text"] for m in messages).split()).startswith("".join(text.split()))

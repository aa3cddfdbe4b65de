"""The web chat routes over the real app and database: credentials, flow, idempotency, errors."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from frontdesk.runtime import Runtime
from tests.factories import PACK, make_tenant, start_chat, wait_for_reply

PROBLEM = "application/problem+json"


def auth(chat: dict[str, object]) -> dict[str, str]:
    return {"Authorization": f"Bearer {chat['visitor_token']}"}


async def send(
    client: httpx.AsyncClient, slug: str, chat: dict, text: str, **extra: object
) -> httpx.Response:
    conversation = chat["conversation"]["id"]
    return await client.post(
        f"/web/v1/{slug}/conversations/{conversation}/messages",
        json={"text": text, **extra},
        headers=auth(chat),
    )


async def test_visitor_chats_and_gets_a_reply_from_the_pack(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    assert chat["resumed"] is False

    accepted = await send(client, tenant.slug, chat, "Hola, ¿cuánto cuesta una tienda en línea?")
    assert accepted.status_code == 202
    assert accepted.json()["seq"] == 1

    reply = await wait_for_reply(client, tenant, chat, after=1)
    store = PACK.service("online-store")
    assert store is not None
    assert store.name.get("es") in reply["text"]
    assert reply["sender"] == "assistant"
    assert reply["payload"]["language"] == "es"


async def test_returning_visitor_resumes_the_same_conversation(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    first = await start_chat(client, tenant)
    again = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={"X-FrontDesk-Key": tenant.publishable_key, **auth(first)},
    )
    assert again.status_code == 200
    assert again.json()["resumed"] is True
    assert again.json()["conversation"]["id"] == first["conversation"]["id"]


async def test_a_retried_message_is_stored_and_answered_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    first, second = await asyncio.gather(
        send(client, tenant.slug, chat, "How much does a website cost?", client_id="abc-1"),
        send(client, tenant.slug, chat, "How much does a website cost?", client_id="abc-1"),
    )
    assert {first.status_code, second.status_code} == {202}
    assert first.json()["id"] == second.json()["id"]
    assert sorted([first.json()["duplicate"], second.json()["duplicate"]]) == [False, True]
    await wait_for_reply(client, tenant, chat, after=1)
    await runtime.jobs.run_due()
    history = await client.get(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        headers=auth(chat),
    )
    directions = [m["direction"] for m in history.json()["messages"]]
    assert directions == ["in", "out"]


async def test_start_requires_the_tenants_publishable_key(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    other = await make_tenant(runtime)
    missing = await client.post(f"/web/v1/{tenant.slug}/conversations")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == PROBLEM
    foreign = await client.post(
        f"/web/v1/{tenant.slug}/conversations", headers={"X-FrontDesk-Key": other.publishable_key}
    )
    assert foreign.status_code == 401
    unknown = await client.post(
        "/web/v1/no-such-tenant/conversations", headers={"X-FrontDesk-Key": tenant.publishable_key}
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/tenant-not-found"


async def test_tenant_b_never_sees_tenant_a_conversation(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    chat_a = await start_chat(client, a)
    chat_b = await start_chat(client, b)
    conversation_a = chat_a["conversation"]["id"]
    # B's visitor token on A's path is refused; A's conversation on B's path does not exist.
    cross_token = await client.get(
        f"/web/v1/{a.slug}/conversations/{conversation_a}/messages", headers=auth(chat_b)
    )
    assert cross_token.status_code == 401
    cross_path = await client.get(
        f"/web/v1/{b.slug}/conversations/{conversation_a}/messages", headers=auth(chat_b)
    )
    assert cross_path.status_code == 404
    assert cross_path.headers["content-type"] == PROBLEM


async def test_another_visitor_of_the_same_tenant_gets_404(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    mine = await start_chat(client, tenant)
    theirs = await start_chat(client, tenant)
    response = await send(
        client, tenant.slug, {**theirs, "conversation": mine["conversation"]}, "hola"
    )
    assert response.status_code == 404


async def test_malformed_input_gets_problem_json_never_500(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    base = f"/web/v1/{tenant.slug}/conversations"
    conversation = chat["conversation"]["id"]
    cases = [
        await client.post(
            f"{base}/{conversation}/messages",
            content=b"{not json",
            headers={**auth(chat), "content-type": "application/json"},
        ),
        await client.post(f"{base}/{conversation}/messages", json={"text": ""}, headers=auth(chat)),
        await client.post(
            f"{base}/{conversation}/messages", json={"text": "x" * 4001}, headers=auth(chat)
        ),
        await client.post(
            f"{base}/{conversation}/messages", json={"text": "hi", "extra": 1}, headers=auth(chat)
        ),
        await client.post(f"{base}/{conversation}/messages", json=["text"], headers=auth(chat)),
        await client.post(f"{base}/not-a-uuid/messages", json={"text": "hi"}, headers=auth(chat)),
        await client.post(
            f"{base}/{uuid.uuid4()}/messages", json={"text": "hi"}, headers=auth(chat)
        ),
        await client.post(
            f"{base}/{conversation}/messages",
            json={"text": "hi"},
            headers={"Authorization": "Bearer nope"},
        ),
        await client.get(
            f"{base}/{conversation}/messages", params={"limit": 0}, headers=auth(chat)
        ),
        await client.get(
            f"{base}/{conversation}/events", headers={**auth(chat), "Last-Event-ID": "x"}
        ),
        await client.post("/web/v1/BAD_SLUG!/conversations"),
        await client.get("/nowhere"),
        await client.delete(f"{base}/{conversation}/messages", headers=auth(chat)),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, (
            response.request.url,
            response.status_code,
            response.text,
        )
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == response.status_code
        assert body["title"]
        assert body["detail"]
    too_long = cases[2].json()
    assert any(error["field"] == "body/text" for error in too_long["errors"])


async def test_an_oversized_body_is_refused_with_413(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    response = await send(client, tenant.slug, chat, "x" * (70 * 1024))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"]

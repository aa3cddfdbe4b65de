"""The isolation matrix: two tenants that share everything that could collide see nothing of
each other, on every route and every background path."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from frontdesk.runtime import Runtime
from frontdesk.security.secrets import create_secret
from frontdesk.security.signatures import sign_request
from tests.factories import SampleTenant, make_secret_key, make_tenant, start_chat, wait_for_reply

SHARED_CONTACT = {
    "id": "cliente-001",
    "name": "María",
    "email": "maria@example.co",
    "phone": "+573001112233",
}


async def _api_message(
    client: httpx.AsyncClient, runtime: Runtime, tenant: SampleTenant, text: str
) -> dict:
    async with runtime.db.session() as session:
        secret = (
            await create_secret(session, runtime.box, tenant.context.id, purpose="api", actor="t")
        ).value
    body = json.dumps(
        {"contact": SHARED_CONTACT, "text": text, "message_id": "provider-msg-1"}
    ).encode()
    response = await client.post(
        f"/v1/channels/api/{tenant.slug}/messages",
        content=body,
        headers={**sign_request(secret, body), "content-type": "application/json"},
    )
    assert response.status_code == 202, response.text
    return response.json()


async def test_two_tenants_that_collide_everywhere_see_nothing_of_each_other(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a, b = await make_tenant(runtime), await make_tenant(runtime)
    # The same pack (same service ids), the same provider message id, the same contact.
    api_a = await _api_message(client, runtime, a, "Hola desde A")
    api_b = await _api_message(client, runtime, b, "Hola desde B")
    assert api_a["duplicate"] is api_b["duplicate"] is False
    assert api_a["conversation_id"] != api_b["conversation_id"]

    # The same web client idempotency key in both tenants.
    chat_a, chat_b = await start_chat(client, a), await start_chat(client, b)
    for tenant, chat in ((a, chat_a), (b, chat_b)):
        sent = await client.post(
            f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
            json={"text": f"precio tienda {tenant.slug}", "client_id": "same-client-id"},
            headers={"Authorization": f"Bearer {chat['visitor_token']}"},
        )
        assert sent.status_code == 202
        assert sent.json()["duplicate"] is False
    await wait_for_reply(client, a, chat_a, after=1)
    await wait_for_reply(client, b, chat_b, after=1)

    key_a, key_b = await make_secret_key(runtime, a), await make_secret_key(runtime, b)
    listed_a = (
        await client.get("/v1/conversations", headers={"Authorization": f"Bearer {key_a}"})
    ).json()["data"]
    listed_b = (
        await client.get("/v1/conversations", headers={"Authorization": f"Bearer {key_b}"})
    ).json()["data"]
    ids_a, ids_b = {c["id"] for c in listed_a}, {c["id"] for c in listed_b}
    assert ids_a == {api_a["conversation_id"], chat_a["conversation"]["id"]}
    assert ids_b == {api_b["conversation_id"], chat_b["conversation"]["id"]}

    # Every read path, with B's credentials, on A's ids: 404 or 401, never A's data.
    for conversation in ids_a:
        response = await client.get(
            f"/v1/conversations/{conversation}", headers={"Authorization": f"Bearer {key_b}"}
        )
        assert response.status_code == 404
        for path in ("messages", "events"):
            web = await client.get(
                f"/web/v1/{b.slug}/conversations/{conversation}/{path}",
                headers={"Authorization": f"Bearer {chat_b['visitor_token']}"},
            )
            assert web.status_code == 404
    # Background paths: each reply landed in its own tenant's conversation, in its own words.
    for key, chat, slug in ((key_a, chat_a, a.slug), (key_b, chat_b, b.slug)):
        detail = (
            await client.get(
                f"/v1/conversations/{chat['conversation']['id']}",
                headers={"Authorization": f"Bearer {key}"},
            )
        ).json()
        assert [m["direction"] for m in detail["messages"]] == ["in", "out"]
        assert detail["messages"][0]["text"] == f"precio tienda {slug}"


async def test_a_noisy_neighbour_does_not_touch_the_other_tenants_quota(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    noisy, quiet = await make_tenant(runtime), await make_tenant(runtime)
    async with runtime.db.session() as session:
        from frontdesk.tenancy import service as tenants

        for tenant in (noisy, quiet):
            row = await tenants.get_tenant(session, tenant.slug)
            await tenants.update_settings(
                session, row, {"rate_limits": {"tenant": 20, "key": 20}}, actor="t"
            )
    key_noisy, key_quiet = (
        await make_secret_key(runtime, noisy),
        await make_secret_key(runtime, quiet),
    )
    flood = await asyncio.gather(
        *(
            client.get("/v1/conversations", headers={"Authorization": f"Bearer {key_noisy}"})
            for _ in range(40)
        )
    )
    assert [r.status_code for r in flood].count(200) == 20
    calm = await client.get("/v1/conversations", headers={"Authorization": f"Bearer {key_quiet}"})
    assert calm.status_code == 200
    assert calm.headers["ratelimit-remaining"] == "19"


async def test_unknown_ids_and_other_tenants_ids_look_the_same(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a, b = await make_tenant(runtime), await make_tenant(runtime)
    chat_a = await start_chat(client, a)
    key_b = await make_secret_key(runtime, b)
    theirs = await client.get(
        f"/v1/conversations/{chat_a['conversation']['id']}",
        headers={"Authorization": f"Bearer {key_b}"},
    )
    missing = await client.get(
        f"/v1/conversations/{uuid.uuid4()}", headers={"Authorization": f"Bearer {key_b}"}
    )
    strip = lambda body: {k: v for k, v in body.items() if k != "detail"}  # noqa: E731
    assert theirs.status_code == missing.status_code == 404
    assert strip(theirs.json()) == strip(missing.json())

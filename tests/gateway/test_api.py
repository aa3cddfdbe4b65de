"""The tenant's server API: secret keys, access tokens, scopes, pagination, isolation."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from frontdesk.runtime import Runtime
from tests.factories import chat_with, make_secret_key, make_tenant

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_secret_key_lists_its_tenants_conversations_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    mine = await chat_with(client, a, "Hola")
    await chat_with(client, b, "Hola")
    key = await make_secret_key(runtime, a)
    response = await client.get("/v1/conversations", headers=bearer(key))
    assert response.status_code == 200, response.text
    ids = [c["id"] for c in response.json()["data"]]
    assert ids == [mine["conversation"]["id"]]
    assert response.headers["ratelimit-limit"]
    assert int(response.headers["ratelimit-remaining"]) >= 0


async def test_pagination_and_filters(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    chats = [await chat_with(client, tenant, f"Hola {n}") for n in range(5)]
    key = await make_secret_key(runtime, tenant)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/conversations", params=params, headers=bearer(key))).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c["conversation"]["id"] for c in chats)
    assert len(seen) == len(set(seen)) == 5
    web = await client.get(
        "/v1/conversations", params={"channel": "webchat", "status": "open"}, headers=bearer(key)
    )
    assert len(web.json()["data"]) == 5
    none = await client.get(
        "/v1/conversations", params={"channel": "whatsapp"}, headers=bearer(key)
    )
    assert none.json()["data"] == []
    bad = await client.get("/v1/conversations", params={"cursor": "123.zz"}, headers=bearer(key))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM


async def test_a_conversation_with_its_messages_and_404_across_tenants(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    chat = await chat_with(client, a, "¿Cuánto cuesta una tienda en línea?")
    conversation = chat["conversation"]["id"]
    mine = await client.get(
        f"/v1/conversations/{conversation}", headers=bearer(await make_secret_key(runtime, a))
    )
    assert mine.status_code == 200
    assert [m["direction"] for m in mine.json()["messages"]] == ["in", "out"]
    theirs = await client.get(
        f"/v1/conversations/{conversation}", headers=bearer(await make_secret_key(runtime, b))
    )
    missing = await client.get(
        f"/v1/conversations/{uuid.uuid4()}", headers=bearer(await make_secret_key(runtime, b))
    )
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["title"] == missing.json()["title"]


@pytest.mark.parametrize("how", ["form", "json", "basic"])
async def test_client_credentials_give_an_access_token(
    client: httpx.AsyncClient, runtime: Runtime, how: str
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    if how == "form":
        response = await client.post(
            "/v1/auth/token", data={"grant_type": "client_credentials", "client_secret": key}
        )
    elif how == "json":
        response = await client.post(
            "/v1/auth/token", json={"grant_type": "client_credentials", "client_secret": key}
        )
    else:
        basic = base64.b64encode(f"{tenant.slug}:{key}".encode()).decode()
        response = await client.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 900
    listed = await client.get("/v1/conversations", headers=bearer(token["access_token"]))
    assert listed.status_code == 200


async def test_scopes_are_enforced(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    narrow = await make_secret_key(runtime, tenant, scopes=["conversations:write"])
    response = await client.get("/v1/conversations", headers=bearer(narrow))
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/insufficient-scope"
    wide = await make_secret_key(runtime, tenant)
    escalate = await client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_secret": narrow,
            "scope": "conversations:read",
        },
    )
    assert escalate.status_code == 422
    narrowed = await client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_secret": wide,
            "scope": "conversations:write",
        },
    )
    token = narrowed.json()["access_token"]
    assert (await client.get("/v1/conversations", headers=bearer(token))).status_code == 403


async def test_credentials_of_the_wrong_kind_are_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    for headers in (
        {},
        bearer(tenant.publishable_key),
        bearer("sk_nope"),
        bearer("eyJ.bad.token"),
        {"Authorization": "Basic Og=="},
    ):
        response = await client.get("/v1/conversations", headers=headers)
        assert response.status_code in (401, 403), headers
        assert response.headers["content-type"] == PROBLEM
    missing = await client.get("/v1/conversations")
    assert missing.headers["www-authenticate"].startswith("Bearer")


async def test_jwks_publishes_the_public_keys_only(client: httpx.AsyncClient) -> None:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "EC"
        assert key["alg"] == "ES256"
        assert "d" not in key

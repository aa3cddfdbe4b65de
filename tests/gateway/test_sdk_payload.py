"""A tapped quick reply's payload, sent with the web chat message, is read as that choice."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from frontdesk.runtime import Runtime
from tests.factories import PACK, SampleTenant, make_tenant, start_chat, wait_for_reply

PROBLEM = "application/problem+json"
# A word that says nothing by itself: only the payload can make it a choice.
VAGUE = "Ese"


def _url(slug: str, chat: dict[str, Any]) -> str:
    return f"/web/v1/{slug}/conversations/{chat['conversation']['id']}/messages"


def _auth(chat: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {chat['visitor_token']}"}


async def _exchange(
    client: httpx.AsyncClient, tenant: SampleTenant, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send ``body`` in a new chat; the stored inbound message and the reply to it."""
    chat = await start_chat(client, tenant)
    sent = await client.post(_url(tenant.slug, chat), json=body, headers=_auth(chat))
    assert sent.status_code == 202, sent.text
    seq = sent.json()["seq"]
    reply = await wait_for_reply(client, tenant, chat, after=seq)
    history = await client.get(
        _url(tenant.slug, chat), params={"after": seq - 1, "limit": 1}, headers=_auth(chat)
    )
    return history.json()["messages"][0], reply


async def test_a_tapped_service_is_answered_as_that_service(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    store = PACK.service("online-store")
    assert store is not None

    _, plain = await _exchange(client, tenant, {"text": VAGUE})
    inbound, tapped = await _exchange(
        client, tenant, {"text": VAGUE, "payload": "service:online-store"}
    )

    assert store.name.get("es") not in plain["text"]
    assert store.name.get("es") in tapped["text"]
    assert tapped["payload"]["intent"] == "product_info"
    assert plain["payload"]["intent"] != "product_info"
    assert inbound["payload"]["payload"] == "service:online-store"


async def test_a_tapped_call_to_action_is_that_call_to_action(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    cta = next(c for c in PACK.strategies.calls_to_action if c.kind == "consultation")
    _, reply = await _exchange(client, tenant, {"text": VAGUE, "payload": f"cta:{cta.id}"})
    assert reply["payload"]["intent"] == "schedule"
    # The call to action's own text, up to its first placeholder.
    assert cta.text.get("es").split("{")[0].strip() in reply["text"]


async def test_an_unknown_payload_is_read_as_plain_text(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    inbound, reply = await _exchange(
        client, tenant, {"text": VAGUE, "payload": "service:no-such-service"}
    )
    assert inbound["payload"]["payload"] == "service:no-such-service"
    assert reply["payload"]["intent"] != "product_info"


async def test_a_message_without_payload_stores_none(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    inbound, _ = await _exchange(client, tenant, {"text": "Hola"})
    assert "payload" not in inbound["payload"]


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "x",
        "service:" + "a" * 200,
        "SERVICE:online-store",
        "service:online store",
        "service:../../etc",
        "service:online-store\n",
        "javascript:alert(1)//",
        42,
        {"id": "service:online-store"},
    ],
)
async def test_a_malformed_payload_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, payload: object
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    sent = await client.post(
        _url(tenant.slug, chat), json={"text": VAGUE, "payload": payload}, headers=_auth(chat)
    )
    assert sent.status_code == 422
    assert sent.headers["content-type"].startswith(PROBLEM)

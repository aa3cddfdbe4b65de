"""``/v1/conversations/{id}/handoff|messages|release`` over HTTP: a person takes a web chat and
a WhatsApp conversation from the assistant, answers on the customer's channel and releases it;
idempotent answers, tenant isolation, the ``conversations:write`` scope, closed conversations
and bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from frontdesk.conversations.models import Message
from frontdesk.runtime import Runtime
from tests.channels import meta
from tests.channels.conftest import graph  # noqa: F401 - the fake Graph API fixture
from tests.channels.fake_graph import FakeGraph
from tests.channels.test_whatsapp import eventually, messages_of
from tests.conversations.test_handoff import (
    assistant_reply,
    bearer,
    decided,
    say,
    set_status,
    web_history,
)
from tests.factories import (
    SampleTenant,
    connect_whatsapp,
    make_secret_key,
    make_tenant,
    start_chat,
)

PROBLEM = "application/problem+json"


def url(conversation_id: str, action: str) -> str:
    return f"/v1/conversations/{conversation_id}/{action}"


async def test_a_person_takes_a_web_chat_answers_it_and_gives_it_back(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    chat = await start_chat(client, tenant)
    conversation_id = chat["conversation"]["id"]
    first = await say(client, tenant, chat, "Hola, quiero una tienda virtual")
    await assistant_reply(client, tenant, chat, after=first["seq"])

    taken = await client.post(
        url(conversation_id, "handoff"), json={"agent": "Ana Gómez"}, headers=bearer(key)
    )
    assert taken.status_code == 200, taken.text
    assert (taken.json()["status"], taken.json()["agent"], taken.json()["changed"]) == (
        "handoff",
        "Ana Gómez",
        True,
    )

    # The customer writes while a person has the conversation: the assistant stays silent.
    during = await say(client, tenant, chat, "¿Hay alguien ahí?")
    await decided(runtime, tenant, during["id"])
    await asyncio.sleep(0.2)  # room for a wrong reply to show up
    assert await web_history(client, tenant, chat, after=during["seq"]) == []

    answer = await client.post(
        url(conversation_id, "messages"),
        json={"text": "Hola, soy Ana. Te ayudo con la tienda.", "agent": "Ana Gómez"},
        headers=bearer(key),
    )
    assert answer.status_code == 201, answer.text
    sent = answer.json()
    assert (sent["sender"], sent["direction"], sent["channel"], sent["status"]) == (
        "agent",
        "out",
        "webchat",
        "sent",
    )
    assert (sent["duplicate"], sent["taken"]) == (False, False)
    shown = await web_history(client, tenant, chat, after=during["seq"])
    assert [(m["sender"], m["text"]) for m in shown] == [
        ("agent", "Hola, soy Ana. Te ayudo con la tienda.")
    ]
    assert shown[0]["payload"]["agent"] == "Ana Gómez"

    released = await client.post(url(conversation_id, "release"), headers=bearer(key))
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["agent"]) == ("open", None)

    after = await say(client, tenant, chat, "Gracias, ¿cuánto cuesta?")
    reply = await assistant_reply(client, tenant, chat, after=after["seq"])
    assert reply["direction"] == "out"
    # The assistant answered only what came after the release.
    senders = [m["sender"] for m in await web_history(client, tenant, chat)]
    assert senders == [
        "visitor",
        "assistant",
        "system",  # Ana joined
        "visitor",
        "agent",
        "system",  # the assistant is back
        "visitor",
        "assistant",
    ]

    detail = await client.get(f"/v1/conversations/{conversation_id}", headers=bearer(key))
    assert detail.json()["status"] == "open"


async def test_a_persons_answer_on_whatsapp_goes_out_through_the_graph_api(
    client: httpx.AsyncClient,
    runtime: Runtime,
    graph: FakeGraph,  # noqa: F811
) -> None:
    tenant = await make_tenant(runtime)
    phone_number_id = await connect_whatsapp(runtime, tenant)
    key = await make_secret_key(runtime, tenant)
    body, headers = meta.signed(
        meta.notification(phone_number_id, messages=[meta.text("Hola, necesito ayuda")])
    )
    assert (await client.post("/webhooks/whatsapp", content=body, headers=headers)).is_success
    await eventually(lambda: len(graph.sent(phone_number_id)) == 1)  # the assistant's answer
    conversation_id = str((await messages_of(runtime, tenant))[0].conversation_id)

    # Answering takes the conversation first.
    answer = await client.post(
        url(conversation_id, "messages"),
        json={"text": "Hola Camila, soy Luis de ventas.", "agent": "Luis", "client_id": "r-1"},
        headers=bearer(key),
    )
    assert answer.status_code == 201, answer.text
    assert (answer.json()["status"], answer.json()["taken"]) == ("queued", True)
    await eventually(lambda: len(graph.sent(phone_number_id)) == 2)
    human = graph.sent(phone_number_id)[1]
    assert human["to"] == "573001234567"
    assert human["text"]["body"] == "Hola Camila, soy Luis de ventas."

    # A retry of the same answer sends nothing more.
    again = await client.post(
        url(conversation_id, "messages"),
        json={"text": "Hola Camila, soy Luis de ventas.", "agent": "Luis", "client_id": "r-1"},
        headers=bearer(key),
    )
    assert again.status_code == 201
    assert (again.json()["id"], again.json()["duplicate"]) == (answer.json()["id"], True)

    # The customer answers: the assistant stays silent, the person has it.
    body, headers = meta.signed(
        meta.notification(phone_number_id, messages=[meta.text("Gracias Luis")])
    )
    assert (await client.post("/webhooks/whatsapp", content=body, headers=headers)).is_success
    rows = await _rows_when(runtime, tenant, lambda rows: len(rows) == 5)
    inbound = rows[-1]
    assert (inbound.direction, inbound.text) == ("in", "Gracias Luis")
    await decided(runtime, tenant, str(inbound.id))
    await asyncio.sleep(0.2)  # room for a wrong reply to show up
    # Two sends only: the assistant's first answer and the person's (the note that says who took
    # the conversation stays in the history).
    assert len(graph.sent(phone_number_id)) == 2
    rows = await _rows_when(runtime, tenant, lambda rows: rows[3].status == "sent")
    assert [m.sender for m in rows] == ["customer", "assistant", "system", "agent", "customer"]
    assert rows[3].provider_id is not None


async def _rows_when(
    runtime: Runtime, tenant: SampleTenant, ready: Callable[[list[Message]], bool]
) -> list[Message]:
    """The tenant's messages, once ``ready`` says they are as expected (sends commit late)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        rows = await messages_of(runtime, tenant)
        if ready(rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not as expected in time: {[(m.sender, m.status) for m in rows]}")
        await asyncio.sleep(0.02)


async def test_answers_are_idempotent_on_client_id(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    chat = await start_chat(client, tenant)
    other = await start_chat(client, tenant)
    conversation_id = chat["conversation"]["id"]
    body = {"text": "Ya te ayudo", "agent": "Ana", "client_id": "msg-7f3a"}
    first, second = [
        await client.post(url(conversation_id, "messages"), json=body, headers=bearer(key))
        for _ in range(2)
    ]
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    agent_messages = [m for m in await web_history(client, tenant, chat) if m["sender"] == "agent"]
    assert len(agent_messages) == 1
    # The same client_id on another conversation is a mistake, not a retry.
    reused = await client.post(
        url(other["conversation"]["id"], "messages"), json=body, headers=bearer(key)
    )
    assert reused.status_code == 409
    assert reused.headers["content-type"] == PROBLEM
    assert reused.json()["title"] == "client_id already used"
    # A visitor's client_id never passes for a person's answer, nor the other way round.
    forged = await client.post(
        f"/web/v1/{tenant.slug}/conversations/{conversation_id}/messages",
        json={"text": "hola", "client_id": "agent/msg-9"},
        headers=bearer(chat["visitor_token"]),
    )
    assert forged.status_code == 422
    visitor = await client.post(
        f"/web/v1/{tenant.slug}/conversations/{conversation_id}/messages",
        json={"text": "hola", "client_id": "msg-9"},
        headers=bearer(chat["visitor_token"]),
    )
    assert visitor.status_code == 202
    person = await client.post(
        url(conversation_id, "messages"), json={**body, "client_id": "msg-9"}, headers=bearer(key)
    )
    assert (person.status_code, person.json()["duplicate"]) == (201, False)
    assert person.json()["id"] != visitor.json()["id"]


async def test_a_retry_racing_the_first_call_sends_one_answer_and_takes_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    chat = await start_chat(client, tenant)
    body = {"text": "Ya te ayudo", "agent": "Ana", "client_id": "race-1"}
    responses = await asyncio.gather(
        *(
            client.post(url(chat["conversation"]["id"], "messages"), json=body, headers=bearer(key))
            for _ in range(3)
        )
    )
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True]
    history = await web_history(client, tenant, chat)
    assert [(m["sender"], m["payload"].get("state")) for m in history] == [
        ("system", "taken"),
        ("agent", None),
    ]


async def test_another_tenants_key_finds_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    chat = await start_chat(client, a)
    conversation_id = chat["conversation"]["id"]
    b_key = await make_secret_key(runtime, b)
    for action, body in (
        ("handoff", {"agent": "Intruso"}),
        ("messages", {"text": "hola", "agent": "Intruso"}),
        ("release", None),
    ):
        response = await client.post(url(conversation_id, action), json=body, headers=bearer(b_key))
        assert response.status_code == 404, (action, response.text)
        assert response.headers["content-type"] == PROBLEM
    assert await web_history(client, a, chat) == []
    unknown = await client.post(
        url(str(uuid.uuid4()), "handoff"),
        json={"agent": "Ana"},
        headers=bearer(await make_secret_key(runtime, a)),
    )
    assert unknown.status_code == 404


async def test_the_write_scope_is_required(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    conversation_id = chat["conversation"]["id"]
    reader = await make_secret_key(runtime, tenant, scopes=["conversations:read"])
    for action, body in (
        ("handoff", {"agent": "Ana"}),
        ("messages", {"text": "hola", "agent": "Ana"}),
        ("release", None),
    ):
        response = await client.post(
            url(conversation_id, action), json=body, headers=bearer(reader)
        )
        assert response.status_code == 403, (action, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert "conversations:write" in response.json()["detail"]
    # The reader still reads.
    read = await client.get(f"/v1/conversations/{conversation_id}", headers=bearer(reader))
    assert read.status_code == 200
    assert read.json()["status"] == "open"
    # A browser's publishable key never reaches these routes.
    browser = await client.post(
        url(conversation_id, "handoff"),
        json={"agent": "Ana"},
        headers=bearer(tenant.publishable_key),
    )
    assert browser.status_code == 403
    anonymous = await client.post(url(conversation_id, "handoff"), json={"agent": "Ana"})
    assert anonymous.status_code == 401


async def test_a_closed_conversation_is_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    chat = await start_chat(client, tenant)
    conversation_id = chat["conversation"]["id"]
    await set_status(runtime, tenant, conversation_id, "closed")
    for action, body in (
        ("handoff", {"agent": "Ana"}),
        ("messages", {"text": "hola", "agent": "Ana"}),
        ("release", None),
    ):
        response = await client.post(url(conversation_id, action), json=body, headers=bearer(key))
        assert response.status_code == 409, (action, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["title"] == "Conversation closed"
    assert await web_history(client, tenant, chat) == []


async def test_taking_twice_and_releasing_an_open_conversation_change_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    chat = await start_chat(client, tenant)
    conversation_id = chat["conversation"]["id"]
    release = await client.post(url(conversation_id, "release"), headers=bearer(key))
    assert (release.status_code, release.json()["changed"]) == (200, False)
    for changed in (True, False):
        take = await client.post(
            url(conversation_id, "handoff"), json={"agent": "Ana"}, headers=bearer(key)
        )
        assert (take.status_code, take.json()["changed"]) == (200, changed)
    over = await client.post(
        url(conversation_id, "handoff"), json={"agent": "Marta"}, headers=bearer(key)
    )
    assert (over.json()["agent"], over.json()["changed"]) == ("Marta", True)
    notes = [m["payload"] for m in await web_history(client, tenant, chat)]
    assert [(n["state"], n["agent"]) for n in notes] == [("taken", "Ana"), ("taken", "Marta")]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("handoff", {}),
        ("handoff", {"agent": ""}),
        ("handoff", {"agent": "x" * 101}),
        ("handoff", {"agent": "Ana", "extra": 1}),
        ("handoff", {"agent": "Ana\x00"}),
        ("messages", {"agent": "Ana"}),
        ("messages", {"text": "", "agent": "Ana"}),
        ("messages", {"text": "x" * 4001, "agent": "Ana"}),
        ("messages", {"text": "hola"}),
        ("messages", {"text": "hola", "agent": "Ana", "client_id": "no spaces"}),
        ("messages", {"text": "hola", "agent": "Ana", "client_id": "x" * 65}),
        ("messages", {"text": "   ", "agent": "Ana"}),
        ("messages", {"text": "hola", "agent": "\u200b\u200b"}),
    ],
)
async def test_bad_input_is_a_problem(
    client: httpx.AsyncClient, runtime: Runtime, action: str, body: dict[str, Any]
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    chat = await start_chat(client, tenant)
    response = await client.post(
        url(chat["conversation"]["id"], action), json=body, headers=bearer(key)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert await web_history(client, tenant, chat) == []


async def test_a_malformed_conversation_id_is_a_problem(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    response = await client.post(url("not-an-id", "release"), headers=bearer(key))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM

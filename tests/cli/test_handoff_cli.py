"""``frontdesk reply`` and ``frontdesk conversation take|release`` on the app's own database,
while the app runs: the answer reaches the web chat and WhatsApp, the assistant stays silent
until the release, and bad input is refused in one line with exit code 2."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from frontdesk.realtime.redis_hub import CHANNEL_PREFIX
from frontdesk.runtime import Runtime
from tests.channels import meta
from tests.channels.conftest import graph  # noqa: F401 - the fake Graph API fixture
from tests.channels.fake_graph import FakeGraph
from tests.channels.test_whatsapp import eventually, messages_of
from tests.conversations.test_handoff import (
    assistant_reply,
    decided,
    say,
    set_status,
    web_history,
)
from tests.delivery.conftest import cli_env  # noqa: F401 - the CLI on the app's database
from tests.delivery.support import invoke
from tests.factories import connect_whatsapp, make_tenant, start_chat


async def frontdesk(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """The CLI in a thread of its own (it runs its own event loop), as an operator would."""
    return await asyncio.to_thread(invoke, env, *args)


async def test_reply_take_and_release_on_a_web_chat(
    client: httpx.AsyncClient,
    runtime: Runtime,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    conversation_id = chat["conversation"]["id"]
    first = await say(client, tenant, chat, "Hola")
    await assistant_reply(client, tenant, chat, after=first["seq"])

    code, out, err = await frontdesk(
        cli_env, "reply", tenant.slug, conversation_id, "Hola, soy Ana.", "--agent", "Ana"
    )
    assert code == 0, err
    assert out.strip().endswith("on webchat: sent; conversation taken by Ana")
    shown = await web_history(client, tenant, chat, after=first["seq"])
    assert [(m["sender"], m["text"]) for m in shown][-1] == ("agent", "Hola, soy Ana.")

    during = await say(client, tenant, chat, "Gracias")
    await decided(runtime, tenant, during["id"])
    await asyncio.sleep(0.2)  # room for a wrong reply to show up
    assert await web_history(client, tenant, chat, after=during["seq"]) == []

    code, out, _ = await frontdesk(
        cli_env, "conversation", "take", tenant.slug, conversation_id, "--agent", "Ana"
    )
    assert (code, out.strip()) == (0, f"conversation {conversation_id} is already Ana's")
    code, out, _ = await frontdesk(
        cli_env, "conversation", "release", tenant.slug, conversation_id, "--json"
    )
    assert code == 0
    assert json.loads(out) == {
        "conversation_id": conversation_id,
        "status": "open",
        "agent": None,
        "changed": True,
    }

    after = await say(client, tenant, chat, "¿Cuánto cuesta una tienda?")
    await assistant_reply(client, tenant, chat, after=after["seq"])

    code, out, _ = await frontdesk(
        cli_env, "conversation", "take", tenant.slug, conversation_id, "--agent", "Luis"
    )
    assert (code, out.strip()) == (0, f"conversation {conversation_id} taken by Luis")


async def test_reply_on_whatsapp_is_sent_by_the_servers_job_runner_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    graph: FakeGraph,  # noqa: F811
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    tenant = await make_tenant(runtime)
    phone_number_id = await connect_whatsapp(runtime, tenant)
    body, headers = meta.signed(meta.notification(phone_number_id, messages=[meta.text("Hola")]))
    assert (await client.post("/webhooks/whatsapp", content=body, headers=headers)).is_success
    await eventually(lambda: len(graph.sent(phone_number_id)) == 1)
    conversation_id = str((await messages_of(runtime, tenant))[0].conversation_id)

    for _ in range(2):  # the operator runs it twice: one message, one send
        code, out, err = await frontdesk(
            cli_env,
            "reply",
            tenant.slug,
            conversation_id,
            "Hola Camila, te escribe Luis.",
            "--agent",
            "Luis",
            "--client-id",
            "op-1",
            "--json",
        )
        assert code == 0, err
    sent = json.loads(out)
    assert (sent["sender"], sent["channel"], sent["duplicate"]) == ("agent", "whatsapp", True)
    await eventually(lambda: len(graph.sent(phone_number_id)) == 2)
    assert graph.sent(phone_number_id)[1]["text"]["body"] == "Hola Camila, te escribe Luis."
    await asyncio.sleep(0.2)  # room for a wrong second send
    assert len(graph.sent(phone_number_id)) == 2
    senders = [m.sender for m in await messages_of(runtime, tenant)]
    assert senders == ["customer", "assistant", "system", "agent"]


async def test_a_take_announces_itself_through_redis(
    client: httpx.AsyncClient,
    runtime: Runtime,
    cli_env: dict[str, str],  # noqa: F811
    redis_url: str,
) -> None:
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    conversation_id = chat["conversation"]["id"]
    redis = Redis.from_url(redis_url)
    try:
        async with redis.pubsub() as pubsub:
            await pubsub.subscribe(f"{CHANNEL_PREFIX}{tenant.context.id}:{conversation_id}")
            await pubsub.get_message(timeout=1)  # the subscription's confirmation
            code, _, err = await frontdesk(
                {**cli_env, "FRONTDESK_REDIS_URL": redis_url},
                "conversation",
                "take",
                tenant.slug,
                conversation_id,
                "--agent",
                "Ana",
            )
            assert code == 0, err
            events = []
            while len(events) < 2:
                item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                assert item is not None, f"only {events} arrived"
                events.append(orjson.loads(item["data"]))
    finally:
        await redis.aclose()
    assert [e["e"] for e in events] == ["message", "handoff"]
    assert orjson.loads(events[1]["d"]) == {"state": "taken", "agent": "Ana"}
    assert orjson.loads(events[0]["d"])["sender"] == "system"


async def test_errors_are_one_line_with_exit_code_2(
    client: httpx.AsyncClient,
    runtime: Runtime,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    tenant = await make_tenant(runtime)
    other = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    conversation_id = chat["conversation"]["id"]
    closed = (await start_chat(client, tenant))["conversation"]["id"]
    await set_status(runtime, tenant, closed, "closed")
    missing = str(uuid.uuid4())
    cases = [
        (("reply", tenant.slug, "not-an-id", "hola"), "'not-an-id' is not a conversation id"),
        (("reply", "no-such-tenant", conversation_id, "hola"), "no tenant 'no-such-tenant'"),
        (("reply", other.slug, conversation_id, "hola"), f"no conversation {conversation_id}"),
        (("reply", tenant.slug, missing, "hola"), f"no conversation {missing}"),
        (("reply", tenant.slug, closed, "hola"), "the conversation is closed"),
        (("reply", tenant.slug, conversation_id, "  "), "the text must be 1 to 4000 characters"),
        (
            ("reply", tenant.slug, conversation_id, "hola", "--agent", ""),
            "the agent must be 1 to 100 characters",
        ),
        (
            ("reply", tenant.slug, conversation_id, "hola", "--client-id", "a b"),
            "client_id must be 1 to 64 letters, digits or the characters _ . : -",
        ),
        (("conversation", "take", tenant.slug, closed), "the conversation is closed"),
        (("conversation", "release", other.slug, conversation_id), "no conversation"),
    ]
    for args, message in cases:
        code, out, err = await frontdesk(cli_env, *args)
        assert code == 2, (args, out, err)
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"error: {message}"), (args, err)
        assert "Traceback" not in err
    # Nothing was written anywhere.
    assert await web_history(client, tenant, chat) == []


@pytest.mark.parametrize("command", [("reply",), ("conversation", "take")])
def test_usage_errors_exit_2(command: tuple[str, ...], cli_env: dict[str, str]) -> None:  # noqa: F811
    code, _, err = invoke(cli_env, *command)
    assert code == 2
    assert "Missing argument" in err

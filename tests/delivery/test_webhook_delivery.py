"""Webhooks end to end: a stored message reaches the tenant's receiver, signed, exactly once."""

from __future__ import annotations

import httpx

from frontdesk.delivery import webhooks
from frontdesk.runtime import Runtime
from tests.delivery.receiver import Receiver
from tests.delivery.support import eventually, hooked_tenant, jobs_of
from tests.factories import chat_with


async def test_a_stored_message_reaches_the_receiver_once_signed(
    local_hooks: Runtime, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    hooked = await hooked_tenant(local_hooks, receiver)
    chat = await chat_with(client, hooked.tenant, "Hola, ¿qué servicios ofrecen?")

    await eventually(lambda: len(receiver.accepted(webhooks.MESSAGE_CREATED)) == 2)
    created = receiver.accepted(webhooks.MESSAGE_CREATED)
    assert all(d.verified for d in receiver.deliveries)
    assert [d.body["data"]["direction"] for d in created] == ["in", "out"]
    assert {d.body["data"]["conversation_id"] for d in created} == {chat["conversation"]["id"]}
    assert created[0].body["data"]["text"] == "Hola, ¿qué servicios ofrecen?"
    assert len({d.webhook_id for d in created}) == 2
    jobs = await jobs_of(local_hooks, hooked.context.id)
    assert [j.status for j in jobs] == ["done", "done"]

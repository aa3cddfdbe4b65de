"""``message.created`` and ``message.status`` for a channel that sends through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.channels.whatsapp.adapter import WhatsAppAdapter
from frontdesk.channels.whatsapp.client import GraphClient
from frontdesk.delivery import webhooks
from frontdesk.runtime import Runtime
from tests.channels import meta
from tests.channels.fake_graph import FakeGraph, GraphServer
from tests.delivery.receiver import Receiver
from tests.delivery.support import eventually, hooked_tenant
from tests.factories import connect_whatsapp


@pytest.fixture
async def graph(runtime: Runtime) -> AsyncIterator[FakeGraph]:
    adapter = runtime.channels.get("whatsapp")
    assert isinstance(adapter, WhatsAppAdapter)
    with GraphServer() as server:
        previous, adapter.graph = adapter.graph, GraphClient(server.url)
        try:
            yield server.graph
        finally:
            await adapter.graph.close()
            adapter.graph = previous


async def test_a_whatsapp_exchange_reports_created_messages_and_the_sent_status(
    local_hooks: Runtime, receiver: Receiver, graph: FakeGraph, client: httpx.AsyncClient
) -> None:
    hooked = await hooked_tenant(local_hooks, receiver)
    phone_number_id = await connect_whatsapp(local_hooks, hooked.tenant)
    body, headers = meta.signed(meta.notification(phone_number_id, messages=[meta.text("Hola")]))
    for _ in range(2):  # Meta retries: still one message, one reply, one of each event
        response = await client.post("/webhooks/whatsapp", content=body, headers=headers)
        assert response.status_code == 200, response.text

    await eventually(lambda: len(receiver.accepted(webhooks.MESSAGE_STATUS)) == 1)
    created = receiver.accepted(webhooks.MESSAGE_CREATED)
    assert [d.body["data"]["direction"] for d in created] == ["in", "out"]
    assert {d.body["data"]["channel"] for d in created} == {"whatsapp"}
    [status] = receiver.accepted(webhooks.MESSAGE_STATUS)
    assert status.body["data"]["status"] == "sent"
    assert status.body["data"]["message_id"] == created[1].body["data"]["id"]
    assert len(graph.sent(phone_number_id)) == 1

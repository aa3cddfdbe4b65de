"""The API channel end to end: the tenant's system posts a signed message, and the reply comes
back to its own signed callback (a webhook endpoint), once, verifiable with the official
Standard Webhooks library."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from frontdesk.runtime import Runtime
from frontdesk.security.secrets import create_secret
from frontdesk.security.signatures import sign_request
from tests.delivery.receiver import Receiver
from tests.delivery.support import hooked_tenant


async def test_the_reply_to_a_signed_message_arrives_at_the_tenants_callback(
    client: httpx.AsyncClient, local_hooks: Runtime, receiver: Receiver
) -> None:
    runtime = local_hooks
    hooked = await hooked_tenant(runtime, receiver, events=["message.created"])
    async with runtime.db.session() as session:
        secret = (
            await create_secret(
                session, runtime.box, hooked.context.id, purpose="api", actor="test"
            )
        ).value
    body = orjson.dumps(
        {
            "contact": {"id": "crm-77", "name": "Andrés Díaz"},
            "text": "Hola, ¿cuánto cuesta una página web?",
            "message_id": "crm-msg-1",
        }
    )
    response = await client.post(
        f"/v1/channels/api/{hooked.tenant.slug}/messages",
        content=body,
        headers={**sign_request(secret, body), "content-type": "application/json"},
    )
    assert response.status_code == 202, response.text
    conversation_id = response.json()["conversation_id"]

    deadline = asyncio.get_running_loop().time() + 15
    while len(receiver.accepted("message.created")) < 2:
        assert asyncio.get_running_loop().time() < deadline, receiver.deliveries
        await asyncio.sleep(0.05)
    events = [d.body["data"] for d in receiver.accepted("message.created")]
    by_direction = {m["direction"]: m for m in events}
    assert by_direction["in"]["text"] == "Hola, ¿cuánto cuesta una página web?"
    reply = by_direction["out"]
    assert reply["conversation_id"] == conversation_id
    assert reply["channel"] == "api"
    assert reply["text"]
    assert all(d.verified for d in receiver.deliveries)

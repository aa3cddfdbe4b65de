"""The API channel: requests signed with Standard Webhooks, each accepted once."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest

from frontdesk.runtime import Runtime
from frontdesk.security.secrets import create_secret, rotate_secret
from frontdesk.security.signatures import sign_request
from frontdesk.store.base import utcnow
from tests.factories import SampleTenant, make_secret_key, make_tenant

BODY = json.dumps(
    {"contact": {"id": "crm-7", "name": "Luis"}, "text": "¿Cuánto cuesta una app móvil?"}
).encode()


async def _secret(runtime: Runtime, tenant: SampleTenant) -> str:
    async with runtime.db.session() as session:
        return (
            await create_secret(
                session, runtime.box, tenant.context.id, purpose="api", actor="test"
            )
        ).value


def _post(
    client: httpx.AsyncClient, tenant: SampleTenant, headers: dict[str, str], body: bytes = BODY
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/v1/channels/api/{tenant.slug}/messages",
        content=body,
        headers={**headers, "content-type": "application/json"},
    )


async def test_a_signed_message_is_stored_answered_and_readable(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    secret = await _secret(runtime, tenant)
    response = await _post(client, tenant, sign_request(secret, BODY))
    assert response.status_code == 202, response.text
    conversation = response.json()["conversation_id"]
    key = await make_secret_key(runtime, tenant)
    for _ in range(200):
        detail = (
            await client.get(
                f"/v1/conversations/{conversation}", headers={"Authorization": f"Bearer {key}"}
            )
        ).json()
        if len(detail["messages"]) == 2:
            break
        await asyncio.sleep(0.02)
    assert detail["channel"] == "api"
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]


async def test_a_replayed_signed_request_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    headers = sign_request(await _secret(runtime, tenant), BODY)
    first = await _post(client, tenant, headers)
    assert first.status_code == 202
    replays = await asyncio.gather(*(_post(client, tenant, headers) for _ in range(5)))
    for replay in replays:
        assert replay.status_code in (202, 401)
        if replay.status_code == 202:
            assert replay.json()["duplicate"] is True
            assert replay.json()["id"] == first.json()["id"]
    key = await make_secret_key(runtime, tenant)
    detail = (
        await client.get(
            f"/v1/conversations/{first.json()['conversation_id']}",
            headers={"Authorization": f"Bearer {key}"},
        )
    ).json()
    assert [m["direction"] for m in detail["messages"]].count("in") == 1


@pytest.mark.parametrize(
    "case",
    [
        "tampered_body",
        "other_secret",
        "stale",
        "future",
        "no_id",
        "no_timestamp",
        "no_signature",
        "malformed_signature",
        "unsigned",
    ],
)
async def test_bad_signatures_are_refused(
    client: httpx.AsyncClient, runtime: Runtime, case: str
) -> None:
    tenant = await make_tenant(runtime)
    secret = await _secret(runtime, tenant)
    body = BODY
    when = utcnow()
    if case == "stale":
        when -= timedelta(minutes=6)
    elif case == "future":
        when += timedelta(minutes=6)
    headers = sign_request(
        secret if case != "other_secret" else "whsec_" + "QUJD" * 8, body, timestamp=when
    )
    if case == "tampered_body":
        body = body.replace(b"Luis", b"Eve!")
    elif case.startswith("no_"):
        headers.pop(f"webhook-{case[3:]}")
    elif case == "malformed_signature":
        headers["webhook-signature"] = "v1,not-base64!!"
    elif case == "unsigned":
        headers = {}
    response = await _post(client, tenant, headers, body)
    assert response.status_code == 401, response.text
    assert response.json()["type"] == "/problems/invalid-signature"


async def test_rotation_accepts_both_secrets_during_the_overlap(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    old = await _secret(runtime, tenant)
    async with runtime.db.session() as session:
        new = (
            await rotate_secret(
                session,
                runtime.box,
                tenant.context.id,
                purpose="api",
                overlap=timedelta(hours=1),
                actor="test",
            )
        ).value
    assert (await _post(client, tenant, sign_request(old, BODY))).status_code == 202
    assert (await _post(client, tenant, sign_request(new, BODY))).status_code == 202


async def test_a_tenant_without_a_secret_refuses_and_another_tenants_secret_fails(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    assert (await _post(client, b, sign_request("whsec_" + "QUJD" * 8, BODY))).status_code == 401
    await _secret(runtime, b)
    response = await _post(client, b, sign_request(await _secret(runtime, a), BODY))
    assert response.status_code == 401

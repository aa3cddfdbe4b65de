"""The browser side of the gateway: per-tenant CORS, identity verification, visitor limits."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from frontdesk.runtime import Runtime
from frontdesk.security.crypto import SecretBox
from frontdesk.security.secrets import create_secret
from frontdesk.tenancy import service as tenants
from tests.factories import SampleTenant, make_tenant

SITE = "https://tienda.example.co"


async def _configure(runtime: Runtime, tenant: SampleTenant, **changes: object) -> None:
    async with runtime.db.session() as session:
        row = await tenants.get_tenant(session, tenant.slug)
        await tenants.update_settings(session, row, changes, actor="test")


async def _preflight(client: httpx.AsyncClient, slug: str, origin: str) -> httpx.Response:
    return await client.options(
        f"/web/v1/{slug}/conversations",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-frontdesk-key",
        },
    )


async def test_preflight_answers_with_the_tenants_own_origins(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    await _configure(runtime, tenant, allowed_origins=[SITE])
    allowed = await _preflight(client, tenant.slug, SITE)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == SITE
    assert "Origin" in allowed.headers["vary"]
    assert "access-control-allow-credentials" not in allowed.headers


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "https://tienda.example.co.evil.com",
        "https://eviltienda.example.co",
        "http://tienda.example.co",
        "https://tienda.example.co:8443",
        "https://tienda.example.co@evil.com",
    ],
)
async def test_unlisted_origins_are_refused_and_never_reflected(
    client: httpx.AsyncClient, runtime: Runtime, origin: str
) -> None:
    tenant = await make_tenant(runtime)
    await _configure(runtime, tenant, allowed_origins=[SITE])
    preflight = await _preflight(client, tenant.slug, origin)
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    actual = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={"Origin": origin, "X-FrontDesk-Key": tenant.publishable_key},
    )
    assert actual.status_code == 403
    assert actual.json()["type"] == "/problems/origin-not-allowed"
    assert "access-control-allow-origin" not in actual.headers
    assert "Origin" in actual.headers["vary"]


async def test_tenant_a_origin_with_tenant_b_key_is_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    await _configure(runtime, a, allowed_origins=[SITE])
    # A's origin on A's path with B's key: the key does not belong to A.
    wrong_key = await client.post(
        f"/web/v1/{a.slug}/conversations",
        headers={"Origin": SITE, "X-FrontDesk-Key": b.publishable_key},
    )
    assert wrong_key.status_code == 401
    # A's origin on B's path (B has not allowed it), with B's own key.
    wrong_origin = await client.post(
        f"/web/v1/{b.slug}/conversations",
        headers={"Origin": SITE, "X-FrontDesk-Key": b.publishable_key},
    )
    assert wrong_origin.status_code == 403
    ok = await client.post(
        f"/web/v1/{a.slug}/conversations",
        headers={"Origin": SITE, "X-FrontDesk-Key": a.publishable_key},
    )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == SITE


async def test_same_origin_requests_need_no_listing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    response = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={"Origin": "http://testserver", "X-FrontDesk-Key": tenant.publishable_key},
    )
    assert response.status_code == 200


async def _identity_secret(runtime: Runtime, tenant: SampleTenant) -> str:
    async with runtime.db.session() as session:
        issued = await create_secret(
            session,
            SecretBox(runtime.settings.instance_key),
            tenant.context.id,
            purpose="identity",
            actor="test",
        )
    return issued.value


async def test_required_identity_refuses_anonymous_visitors(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    secret = await _identity_secret(runtime, tenant)
    anonymous = await client.post(
        f"/web/v1/{tenant.slug}/conversations", headers={"X-FrontDesk-Key": tenant.publishable_key}
    )
    anonymous_token = anonymous.json()["visitor_token"]
    await _configure(runtime, tenant, identity_verification="required")

    refused = await client.post(
        f"/web/v1/{tenant.slug}/conversations", headers={"X-FrontDesk-Key": tenant.publishable_key}
    )
    assert refused.status_code == 401
    assert refused.json()["type"] == "/problems/identity-required"
    # A token issued while anonymous was allowed cannot chat any more either.
    old = await client.post(
        f"/web/v1/{tenant.slug}/conversations/{anonymous.json()['conversation']['id']}/messages",
        headers={"Authorization": f"Bearer {anonymous_token}"},
        json={"text": "hola"},
    )
    assert old.status_code == 401

    forged = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={"X-FrontDesk-Key": tenant.publishable_key},
        json={"user": {"id": "user-42", "proof": "0" * 64}},
    )
    assert forged.status_code == 401

    proof = hmac.new(secret.encode(), b"user-42", hashlib.sha256).hexdigest()
    verified = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={"X-FrontDesk-Key": tenant.publishable_key},
        json={"user": {"id": "user-42", "proof": proof, "name": "Ana"}},
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True
    # The same user on another device is the same contact and conversation.
    again = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={"X-FrontDesk-Key": tenant.publishable_key},
        json={"user": {"id": "user-42", "proof": proof}},
    )
    assert again.json()["contact_id"] == verified.json()["contact_id"]
    assert again.json()["conversation"]["id"] == verified.json()["conversation"]["id"]
    sent = await client.post(
        f"/web/v1/{tenant.slug}/conversations/{again.json()['conversation']['id']}/messages",
        headers={"Authorization": f"Bearer {again.json()['visitor_token']}"},
        json={"text": "hola"},
    )
    assert sent.status_code == 202


async def test_a_visitor_burst_stops_at_the_visitor_limit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    await _configure(runtime, tenant, rate_limits={"visitor": 5})
    start = await client.post(
        f"/web/v1/{tenant.slug}/conversations", headers={"X-FrontDesk-Key": tenant.publishable_key}
    )
    chat = start.json()
    url = f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages"
    import asyncio

    responses = await asyncio.gather(
        *(
            client.get(url, headers={"Authorization": f"Bearer {chat['visitor_token']}"})
            for _ in range(20)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 15
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-remaining"] == "0"


async def test_a_forged_x_forwarded_for_does_not_escape_the_limit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    await _configure(runtime, tenant, rate_limits={"visitor": 3})
    statuses = [
        (
            await client.post(
                f"/web/v1/{tenant.slug}/conversations",
                headers={
                    "X-FrontDesk-Key": tenant.publishable_key,
                    "X-Forwarded-For": f"203.0.113.{n}",
                },
            )
        ).status_code
        for n in range(6)
    ]
    assert statuses == [200, 200, 200, 429, 429, 429]

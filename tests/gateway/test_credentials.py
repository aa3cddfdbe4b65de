"""Key revocation and rotation, tenant suspension and token cut-off, over HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from frontdesk.runtime import Runtime
from frontdesk.security.keys import hash_key, revoke_key, rotate_key
from frontdesk.security.models import ApiKey
from frontdesk.store.scope import system_scope
from frontdesk.tenancy import service as tenants
from tests.factories import make_secret_key, make_tenant


async def _key_id(runtime: Runtime, key: str) -> uuid.UUID:
    async with runtime.db.session() as session, system_scope(session):
        return (
            await session.execute(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key)))
        ).scalar_one()


async def test_revocation_takes_effect_at_once(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/conversations", headers=headers)).status_code == 200
    async with runtime.db.session() as session:
        await revoke_key(session, tenant.context.id, await _key_id(runtime, key), actor="test")
    response = await client.get("/v1/conversations", headers=headers)
    assert response.status_code == 401


async def test_rotation_overlaps_and_keeps_the_quota(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    async with runtime.db.session() as session:
        row = await tenants.get_tenant(session, tenant.slug)
        await tenants.update_settings(session, row, {"rate_limits": {"key": 3}}, actor="test")
    old = await make_secret_key(runtime, tenant)
    assert (
        await client.get("/v1/conversations", headers={"Authorization": f"Bearer {old}"})
    ).status_code == 200
    async with runtime.db.session() as session:
        issued = await rotate_key(
            session,
            tenant.context.id,
            await _key_id(runtime, old),
            overlap=timedelta(hours=1),
            actor="test",
        )
    new = issued.key
    statuses = [
        (
            await client.get("/v1/conversations", headers={"Authorization": f"Bearer {k}"})
        ).status_code
        for k in (old, new, new)
    ]
    # Both keys work during the overlap, and they share one quota of 3 (1 used before rotating).
    assert statuses == [200, 200, 429]
    limited = await client.get("/v1/conversations", headers={"Authorization": f"Bearer {old}"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["content-type"] == "application/problem+json"


async def test_rotation_without_overlap_stops_the_old_key(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    old = await make_secret_key(runtime, tenant)
    async with runtime.db.session() as session:
        issued = await rotate_key(
            session,
            tenant.context.id,
            await _key_id(runtime, old),
            overlap=timedelta(0),
            actor="test",
        )
    assert (
        await client.get("/v1/conversations", headers={"Authorization": f"Bearer {old}"})
    ).status_code == 401
    assert (
        await client.get("/v1/conversations", headers={"Authorization": f"Bearer {issued.key}"})
    ).status_code == 200


async def test_a_suspended_tenant_is_refused_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/conversations", headers=headers)).status_code == 200
    async with runtime.db.session() as session:
        await tenants.set_status(
            session, await tenants.get_tenant(session, tenant.slug), "suspended", actor="test"
        )
    refused = await client.get("/v1/conversations", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/tenant-suspended"
    web = await client.post(
        f"/web/v1/{tenant.slug}/conversations", headers={"X-FrontDesk-Key": tenant.publishable_key}
    )
    assert web.status_code == 403
    async with runtime.db.session() as session:
        await tenants.set_status(
            session, await tenants.get_tenant(session, tenant.slug), "active", actor="test"
        )
    assert (await client.get("/v1/conversations", headers=headers)).status_code == 200


async def test_the_token_cutoff_refuses_tokens_issued_before(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    token = (
        await client.post(
            "/v1/auth/token", data={"grant_type": "client_credentials", "client_secret": key}
        )
    ).json()["access_token"]
    assert (
        await client.get("/v1/conversations", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    async with runtime.db.session() as session:
        await tenants.revoke_all_tokens(
            session, await tenants.get_tenant(session, tenant.slug), actor="test"
        )
    refused = await client.get("/v1/conversations", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    # The secret key itself still works, and so do tokens issued after the cut-off.
    assert (
        await client.get("/v1/conversations", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 200

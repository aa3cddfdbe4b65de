"""The platform operator's API: only the owner tenant's admin-scoped key administers tenants."""

from __future__ import annotations

import httpx
import pytest

from frontdesk.runtime import Runtime
from frontdesk.security.keys import create_key
from frontdesk.tenancy.repository import TenantTable
from tests.factories import make_secret_key, make_tenant


async def _owner_admin_key(runtime: Runtime) -> str:
    async with runtime.db.session() as session:
        owner = await TenantTable(session).by_slug(runtime.settings.owner_slug)
        assert owner is not None
        issued = await create_key(
            session, owner.id, kind="secret", name="ops", actor="test", scopes=["admin"]
        )
    return issued.key


async def test_the_operator_manages_a_tenants_lifecycle(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = {"Authorization": f"Bearer {await _owner_admin_key(runtime)}"}
    created = await client.post(
        "/v1/admin/tenants",
        json={"slug": "panaderia-la-80", "name": "Panadería La 80"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    key = created.json()["publishable_key"]
    assert key.startswith("pk_")

    patched = await client.patch(
        "/v1/admin/tenants/panaderia-la-80",
        json={"allowed_origins": ["https://panaderia.example.co"], "plan": "pro"},
        headers=headers,
    )
    assert patched.status_code == 200
    assert patched.json()["settings"]["plan"] == "pro"
    assert patched.json()["settings"]["allowed_origins"] == ["https://panaderia.example.co"]

    bad = await client.patch(
        "/v1/admin/tenants/panaderia-la-80",
        json={"allowed_origins": ["not an origin"]},
        headers=headers,
    )
    assert bad.status_code == 422

    web = {"X-FrontDesk-Key": key}
    assert (
        await client.post("/web/v1/panaderia-la-80/conversations", headers=web)
    ).status_code == 200
    assert (
        await client.post("/v1/admin/tenants/panaderia-la-80/suspend", headers=headers)
    ).status_code == 200
    assert (
        await client.post("/web/v1/panaderia-la-80/conversations", headers=web)
    ).status_code == 403
    assert (
        await client.post("/v1/admin/tenants/panaderia-la-80/reactivate", headers=headers)
    ).status_code == 200
    assert (
        await client.post("/web/v1/panaderia-la-80/conversations", headers=web)
    ).status_code == 200

    listed = await client.get("/v1/admin/tenants", headers=headers)
    assert "panaderia-la-80" in [t["slug"] for t in listed.json()]
    duplicate = await client.post(
        "/v1/admin/tenants", json={"slug": "panaderia-la-80", "name": "x"}, headers=headers
    )
    assert duplicate.status_code == 409


async def test_the_owner_cannot_be_suspended(client: httpx.AsyncClient, runtime: Runtime) -> None:
    headers = {"Authorization": f"Bearer {await _owner_admin_key(runtime)}"}
    response = await client.post(
        f"/v1/admin/tenants/{runtime.settings.owner_slug}/suspend", headers=headers
    )
    assert response.status_code == 403


@pytest.mark.parametrize("who", ["owner_without_admin_scope", "other_tenant_key"])
async def test_no_one_else_administers(
    client: httpx.AsyncClient, runtime: Runtime, who: str
) -> None:
    if who == "owner_without_admin_scope":
        async with runtime.db.session() as session:
            owner = await TenantTable(session).by_slug(runtime.settings.owner_slug)
            assert owner is not None
            key = (await create_key(session, owner.id, kind="secret", name="x", actor="test")).key
    else:
        tenant = await make_tenant(runtime)
        key = await make_secret_key(runtime, tenant, scopes=["admin", "conversations:read"])
    response = await client.get("/v1/admin/tenants", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"

"""The pipeline's hot path: no database on cache hits, the route index, documented parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.app import create_app
from frontdesk.gateway.deps import Caller, PathTenant, Visitor, requires
from frontdesk.gateway.middleware import RouteIndex, index_routes
from frontdesk.runtime import Runtime
from frontdesk.security.models import AuditEvent
from frontdesk.settings import Settings
from frontdesk.store.scope import bind_tenant
from tests.factories import make_secret_key, make_tenant, start_chat

probe = APIRouter()


@probe.post("/web/v1/{tenant}/probe")
async def web_probe(tenant: PathTenant, visitor: Visitor) -> dict[str, str]:
    return {"tenant": tenant.slug, "visitor": visitor.subject}


@probe.get("/v1/probe")
async def server_probe(
    caller: Annotated[Caller, Depends(requires("conversations:read"))],
) -> dict[str, str]:
    return {"tenant": caller.tenant.slug}


@pytest.fixture
async def probed(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own, with the probe routes (the session's app stays as is)."""
    app = create_app(settings, runtime=runtime)
    app.include_router(probe)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def sessions(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the database sessions opened from now on."""
    opened: list[int] = []
    original = runtime.db.session

    @asynccontextmanager
    async def counted() -> AsyncIterator[AsyncSession]:
        opened.append(1)
        async with original() as session:
            yield session

    monkeypatch.setattr(runtime.db, "session", counted)
    return opened


async def test_cached_credentials_open_no_database_session(
    probed: httpx.AsyncClient, runtime: Runtime, sessions: list[int]
) -> None:
    client = probed
    tenant = await make_tenant(runtime)
    chat = await start_chat(client, tenant)
    key = await make_secret_key(runtime, tenant)
    web = {"Authorization": f"Bearer {chat['visitor_token']}"}
    server = {"Authorization": f"Bearer {key}"}
    assert (await client.post(f"/web/v1/{tenant.slug}/probe", headers=web)).status_code == 200
    assert (await client.get("/v1/probe", headers=server)).status_code == 200
    sessions.clear()
    for _ in range(3):
        response = await client.post(f"/web/v1/{tenant.slug}/probe", headers=web)
        assert response.json() == {"tenant": tenant.slug, "visitor": chat["contact_id"]}
        assert response.headers["ratelimit-limit"]
        response = await client.get("/v1/probe", headers=server)
        assert response.json() == {"tenant": tenant.slug}
        assert response.headers["ratelimit-remaining"]
    assert sessions == []


async def test_a_refused_credential_is_still_audited_without_a_route_session(
    probed: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    response = await probed.post(
        f"/web/v1/{tenant.slug}/probe", headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401
    async with runtime.db.session() as session:
        bind_tenant(session, tenant.context.id)
        actions = (
            await session.execute(
                select(AuditEvent.action).where(AuditEvent.tenant_id == tenant.context.id)
            )
        ).scalars()
        assert "security.auth_failed" in set(actions)


async def test_the_route_index_answers_as_the_router_does(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    missing = await client.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await client.delete("/healthz")).status_code == 405
    slash = await client.get("/healthz/")
    assert slash.status_code == 307
    assert slash.headers["location"].endswith("/healthz")


def test_the_route_index_tries_only_the_routers_that_could_match() -> None:
    first, second, anywhere = APIRouter(), APIRouter(prefix="/b"), APIRouter()

    @first.get("/a/x")
    async def a() -> None: ...

    @second.get("/{item}")
    async def b(item: str) -> None: ...

    @anywhere.get("/{page}/{rest}")
    async def c(page: str, rest: str) -> None: ...

    app = FastAPI()
    for router in (first, second, anywhere):
        app.include_router(router)
    index_routes(app)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    index._build()
    included = app.router.routes[-3:]

    def names(key: tuple[str, ...]) -> list[Any]:
        # An included router's routes are filed one by one: name each by its router.
        routers = [getattr(route, "included", route) for route in index.candidates(key)]
        return [included.index(router) for router in routers if router in included]

    assert names(("a", "x")) == [0, 2]
    assert names(("b", "7")) == [1, 2]
    assert names(("c",)) == [2]


async def test_parameters_read_by_the_dependencies_are_documented(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    def parameters(path: str, method: str) -> dict[tuple[str, str], dict[str, Any]]:
        found = paths[path][method].get("parameters", [])
        return {(p["name"], p["in"]): p for p in found}

    send = parameters("/web/v1/{tenant}/conversations/{conversation_id}/messages", "post")
    assert send[("tenant", "path")]["required"] is True
    assert send[("tenant", "path")]["schema"]["pattern"] == "^[a-z0-9-]+$"
    assert ("authorization", "header") in send
    assert ("token", "query") in send
    start = parameters("/web/v1/{tenant}/conversations", "post")
    assert ("x-frontdesk-key", "header") in start
    assert ("authorization", "header") in parameters("/v1/conversations", "get")

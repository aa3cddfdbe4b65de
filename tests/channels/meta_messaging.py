"""What the Messenger and Instagram tests share: the fake Send API wired to the runtime's
adapters, connected pages and accounts, signed posts and the stored messages."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdesk.channels.connections import add_connection
from frontdesk.channels.graph import GraphHttp
from frontdesk.channels.meta_messaging.adapter import MetaMessagingAdapter
from frontdesk.channels.meta_messaging.client import SendApi
from frontdesk.conversations.models import Message
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.channels import meta
from tests.channels.fake_graph import FakeSendApi, GraphServer
from tests.delivery.support import eventually
from tests.factories import SampleTenant, make_tenant

__all__ = [
    "Connected",
    "adapter_of",
    "connect",
    "customer",
    "eventually",
    "messages_of",
    "post",
    "send_api",
    "stored",
]

OBJECT = {"messenger": "page", "instagram": "instagram"}


@pytest.fixture
async def send_api(runtime: Runtime) -> AsyncIterator[FakeSendApi]:
    """The fake Graph API, with the runtime's Messenger and Instagram adapters pointed at it."""
    adapters = [adapter_of(runtime, kind) for kind in OBJECT]
    with GraphServer() as server:
        http = GraphHttp(server.url)
        previous = [adapter.api for adapter in adapters]
        for adapter in adapters:
            adapter.api = SendApi(http)
        try:
            yield server.graph.send_api
        finally:
            for adapter, api in zip(adapters, previous, strict=True):
                adapter.api = api
            await http.close()


@dataclass(frozen=True)
class Connected:
    tenant: SampleTenant
    kind: str
    account_id: str

    def notification(self, *events: dict[str, Any]) -> dict[str, Any]:
        return meta.messaging(OBJECT[self.kind], self.account_id, *events)


async def connect(
    rt: Runtime,
    kind: str,
    tenant: SampleTenant | None = None,
    *,
    credentials: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
) -> Connected:
    """A new tenant (or ``tenant``) with a Messenger page or Instagram account connected."""
    tenant = tenant or await make_tenant(rt)
    account_id = str(secrets.randbelow(10**15) + 10**14)
    async with rt.db.session() as session:
        await add_connection(
            session,
            rt.box,
            tenant.context.id,
            kind=kind,
            account_id=account_id,
            credentials=credentials or meta.PAGE_CREDENTIALS,
            options=options or {},
            actor="test",
        )
    return Connected(tenant, kind, account_id)


def adapter_of(rt: Runtime, kind: str) -> MetaMessagingAdapter:
    adapter = rt.channels.get(kind)
    assert isinstance(adapter, MetaMessagingAdapter)
    return adapter


def customer() -> str:
    """A new page- or Instagram-scoped id: one test's customer is nobody else's."""
    return str(secrets.randbelow(10**16) + 10**15)


async def post(
    client: httpx.AsyncClient, kind: str, payload: dict[str, Any], secret: str | None = None
) -> httpx.Response:
    body, headers = meta.signed(payload, secret or meta.PAGE_CREDENTIALS["app_secret"])
    return await client.post(f"/webhooks/{kind}", content=body, headers=headers)


async def messages_of(rt: Runtime, tenant: SampleTenant) -> list[Message]:
    async with rt.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(Message).where(Message.tenant_id == tenant.context.id).order_by(Message.seq)
        )
        return list(rows)


async def stored(
    rt: Runtime, tenant: SampleTenant, check: Callable[[list[Message]], Any], within: float = 15.0
) -> list[Message]:
    """The tenant's messages once ``check`` holds of them."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        rows = await messages_of(rt, tenant)
        if check(rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the stored messages never matched")
        await asyncio.sleep(0.03)

"""Plain async factories for test data, each in its own committed unit of work."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from frontdesk.channels.connections import add_connection
from frontdesk.engine.packs import ContextPack, default_pack_dir, load_pack
from frontdesk.runtime import Runtime
from frontdesk.security.keys import create_key
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.schemas import TenantCreate
from frontdesk.tenancy.service import create_tenant, to_context

PACK = load_pack(default_pack_dir())


@dataclass(frozen=True)
class SampleTenant:
    context: TenantContext
    publishable_key: str

    @property
    def slug(self) -> str:
        return self.context.slug


async def make_tenant(
    rt: Runtime, *, with_pack: bool = True, pack: ContextPack | None = None
) -> SampleTenant:
    slug = f"t-{secrets.token_hex(4)}"
    async with rt.db.session() as session:
        row = await create_tenant(
            session,
            TenantCreate(slug=slug, name=f"Tenant {slug}"),
            actor="test",
            pack=(pack or PACK) if with_pack else None,
        )
        issued = await create_key(session, row.id, kind="publishable", name="web", actor="test")
        context = to_context(row)
    return SampleTenant(context=context, publishable_key=issued.key)


async def start_chat(client: httpx.AsyncClient, tenant: SampleTenant) -> dict[str, Any]:
    response = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={"X-FrontDesk-Key": tenant.publishable_key},
        json={},
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def wait_for_reply(
    client: httpx.AsyncClient,
    tenant: SampleTenant,
    chat: dict[str, Any],
    *,
    after: int,
    within: float = 10.0,
) -> dict[str, Any]:
    """Poll the history until an outbound message after ``after`` appears."""
    conversation = chat["conversation"]["id"]
    headers = {"Authorization": f"Bearer {chat['visitor_token']}"}
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        response = await client.get(
            f"/web/v1/{tenant.slug}/conversations/{conversation}/messages",
            params={"after": after},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        replies = [m for m in response.json()["messages"] if m["direction"] == "out"]
        if replies:
            return replies[0]
        await asyncio.sleep(0.02)
    raise AssertionError("no reply arrived")


async def make_secret_key(
    rt: Runtime, tenant: SampleTenant, *, scopes: list[str] | None = None
) -> str:
    async with rt.db.session() as session:
        issued = await create_key(
            session, tenant.context.id, kind="secret", name="server", actor="test"
        )
        if scopes is not None:
            issued.row.scopes = scopes
    return issued.key


async def chat_with(client: httpx.AsyncClient, tenant: SampleTenant, text: str) -> dict[str, Any]:
    """Start a web chat, send ``text`` and wait for the reply; returns the chat."""
    chat = await start_chat(client, tenant)
    response = await client.post(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        json={"text": text},
        headers={"Authorization": f"Bearer {chat['visitor_token']}"},
    )
    assert response.status_code == 202, response.text
    await wait_for_reply(client, tenant, chat, after=1)
    return chat


WHATSAPP_CREDENTIALS = {
    "app_secret": "whatsapp-app-secret-for-tests",
    "verify_token": "verify-token-for-tests",
    "access_token": "EAAG-test-access-token",
}


async def connect_whatsapp(
    rt: Runtime,
    tenant: SampleTenant,
    *,
    phone_number_id: str | None = None,
    credentials: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
) -> str:
    """Connect a WhatsApp number to ``tenant``; returns its phone-number id."""
    phone_number_id = phone_number_id or str(secrets.randbelow(10**15) + 10**14)
    async with rt.db.session() as session:
        await add_connection(
            session,
            rt.box,
            tenant.context.id,
            kind="whatsapp",
            account_id=phone_number_id,
            credentials=credentials or WHATSAPP_CREDENTIALS,
            options=options or {"phone_number": "+57 300 123 4567"},
            actor="test",
        )
    return phone_number_id

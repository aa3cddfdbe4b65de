"""Tenant deletion: every row of the tenant gone (counted in every tenant table), nothing of any
other tenant touched, the owner refused, and the tenant's routes and credentials dead at once."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
import structlog
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from frontdesk.channels.connections import add_connection
from frontdesk.channels.email.imap import Mailboxes
from frontdesk.channels.email.models import EmailMailbox, EmailThread
from frontdesk.channels.email.threads import EmailThreads
from frontdesk.channels.models import TransferCode
from frontdesk.channels.transfer import TransferCodes
from frontdesk.conversations.models import Lead
from frontdesk.conversations.repository import LeadRepository
from frontdesk.crm.models import CrmRecord
from frontdesk.crm.service import CrmRecordRepository
from frontdesk.delivery.endpoints import create_endpoint
from frontdesk.errors import FrontDeskError
from frontdesk.runtime import Runtime
from frontdesk.security.secrets import rotate_secret
from frontdesk.security.tokens import revoke
from frontdesk.settings import Settings
from frontdesk.store.base import utcnow
from frontdesk.tenancy.lifecycle import (
    OwnerTenantProtected,
    PurgeReport,
    delete_tenant,
    tenant_tables,
    verify_purged,
)
from frontdesk.tenancy.service import TenantNotFound, get_tenant
from tests.factories import (
    WHATSAPP_CREDENTIALS,
    SampleTenant,
    chat_with,
    make_secret_key,
    make_tenant,
)

OWNER = Settings.model_fields["owner_slug"].default
HOUR = timedelta(hours=1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def populate(client: httpx.AsyncClient, runtime: Runtime, tenant: SampleTenant) -> str:
    """Give ``tenant`` rows in every tenant table; returns a secret key of it."""
    chat = await chat_with(client, tenant, "Hola, ¿cuánto cuesta una tienda en línea?")
    key = await make_secret_key(runtime, tenant)
    async with runtime.db.session() as session:
        await rotate_secret(
            session, runtime.box, tenant.context.id, purpose="webhook", overlap=HOUR, actor="test"
        )
        await revoke(session, tenant.context.id, f"jti-{tenant.slug}", actor="test")
        await add_connection(
            session,
            runtime.box,
            tenant.context.id,
            kind="whatsapp",
            account_id=f"phone-{tenant.slug}",
            credentials=WHATSAPP_CREDENTIALS,
            actor="test",
        )
        await create_endpoint(
            session,
            runtime.box,
            runtime.webhooks.guard,
            tenant.context,
            url="https://93.184.216.34/hooks",
            events=["*"],
            actor="test",
        )
        TransferCodes(session, tenant.context.id).add(
            TransferCode(
                conversation_id=uuid.UUID(chat["conversation"]["id"]),
                channel="whatsapp",
                code_hash=f"hash-{tenant.slug}",
                expires_at=utcnow() + HOUR,
            )
        )
        lead = LeadRepository(session, tenant.context.id).add(
            Lead(
                contact_id=uuid.UUID(chat["contact_id"]),
                conversation_id=uuid.UUID(chat["conversation"]["id"]),
            )
        )
        await session.flush()
        CrmRecordRepository(session, tenant.context.id).add(
            CrmRecord(lead_id=lead.id, provider="hubspot", contact_ref="1", deal_ref="2")
        )
        mail = await add_connection(
            session,
            runtime.box,
            tenant.context.id,
            kind="email",
            account_id=f"soporte-{tenant.slug}@acme.example",
            credentials={"smtp_password": "smtp-password"},
            options={"smtp_host": "smtp.acme.example", "inbound": "sendgrid"},
            actor="test",
        )
        EmailThreads(session, tenant.context.id).add(
            EmailThread(
                conversation_id=uuid.UUID(chat["conversation"]["id"]),
                token=uuid.uuid4().hex[:24],
                account=mail.account_id,
                subject="Tienda",
                references=[],
            )
        )
        Mailboxes(session, tenant.context.id).add(
            EmailMailbox(connection_id=mail.id, mailbox="INBOX")
        )
    return key


async def delete(runtime: Runtime, slug: str) -> PurgeReport:
    async with runtime.db.session() as session:
        row = await get_tenant(session, slug)
        return await delete_tenant(session, row, actor="test", owner_slug=OWNER)


async def remaining(runtime: Runtime, tenant: SampleTenant) -> dict[str, int]:
    async with runtime.db.session() as session:
        return await verify_purged(session, tenant.context.id)


async def test_delete_purges_every_tenant_table_and_nothing_of_another_tenant(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    doomed, other = await make_tenant(runtime), await make_tenant(runtime)
    await populate(client, runtime, doomed)
    await populate(client, runtime, other)
    before = await remaining(runtime, doomed)
    other_before = await remaining(runtime, other)
    names = {table.name for table in tenant_tables()}
    assert set(before) == names | {"tenants"}
    empty = sorted(name for name, count in before.items() if not count)
    assert not empty, f"populate() leaves {empty} empty: give the new table a row in this test"

    report = await delete(runtime, doomed.slug)

    assert report.tenant_id == doomed.context.id
    assert report.slug == doomed.slug
    assert report.counts == before
    assert report.counts["tenants"] == 1
    assert report.total == sum(before.values())
    assert orjson.loads(orjson.dumps(report.as_dict()))["counts"] == before
    after = await remaining(runtime, doomed)
    assert set(after) == set(before)
    assert all(count == 0 for count in after.values()), after
    assert await remaining(runtime, other) == other_before


async def test_every_table_with_a_tenant_id_is_known_and_cascades(runtime: Runtime) -> None:
    def schema(connection: Connection) -> dict[str, list[dict[str, Any]]]:
        inspector = inspect(connection)
        return {
            name: inspector.get_foreign_keys(name)
            for name in inspector.get_table_names()
            if "tenant_id" in {column["name"] for column in inspector.get_columns(name)}
        }

    async with runtime.db.engine.connect() as connection:
        tables = await connection.run_sync(schema)
    assert set(tables) == {table.name for table in tenant_tables()}
    for name, keys in tables.items():
        to_tenants = [k for k in keys if k["referred_table"] == "tenants"]
        assert to_tenants, f"{name}.tenant_id has no foreign key to tenants"
        assert all(
            (k.get("options") or {}).get("ondelete", "").upper() == "CASCADE" for k in to_tenants
        ), f"{name}.tenant_id does not cascade"


async def test_the_owner_tenant_is_refused(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        owner = await get_tenant(session, OWNER)
        with pytest.raises(OwnerTenantProtected) as refused:
            await delete_tenant(session, owner, actor="test", owner_slug=OWNER)
    assert isinstance(refused.value, FrontDeskError)
    assert refused.value.status == 403
    async with runtime.db.session() as session:
        assert (await get_tenant(session, OWNER)).slug == OWNER
        assert (await verify_purged(session, owner.id))["tenants"] == 1


async def test_a_deleted_tenants_routes_and_credentials_fail_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    chat = await chat_with(client, tenant, "Hola")
    key = await make_secret_key(runtime, tenant)
    issued = await client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(f"x:{key}".encode()).decode()},
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    conversation = chat["conversation"]["id"]
    history = f"/web/v1/{tenant.slug}/conversations/{conversation}/messages"
    # Every cache warm: the tenant, the key, the token's claims.
    assert (await client.get(history, headers=bearer(chat["visitor_token"]))).status_code == 200
    assert (await client.get("/v1/conversations", headers=bearer(key))).status_code == 200
    assert (await client.get("/v1/conversations", headers=bearer(token))).status_code == 200

    await delete(runtime, tenant.slug)

    start = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={"X-FrontDesk-Key": tenant.publishable_key},
        json={},
    )
    assert start.status_code == 404
    read = await client.get(history, headers=bearer(chat["visitor_token"]))
    assert read.status_code == 404
    by_key = await client.get("/v1/conversations", headers=bearer(key))
    assert by_key.status_code == 401
    assert by_key.json()["type"].endswith("/invalid-key")
    by_token = await client.get(f"/v1/conversations/{conversation}", headers=bearer(token))
    assert by_token.status_code == 404
    assert by_token.json()["type"].endswith("/tenant-not-found")
    with pytest.raises(TenantNotFound):
        await runtime.tenants.by_slug(tenant.slug)
    with pytest.raises(TenantNotFound):
        await runtime.tenants.by_id(tenant.context.id)


class Abort(Exception):
    """Raised inside a unit of work to roll it back."""


async def test_the_deletion_is_logged_once_committed_and_not_on_rollback(
    runtime: Runtime,
) -> None:
    tenant = await make_tenant(runtime)

    async def delete_then_fail() -> None:
        async with runtime.db.session() as session:
            row = await get_tenant(session, tenant.slug)
            await delete_tenant(session, row, actor="someone", owner_slug=OWNER)
            raise Abort

    with structlog.testing.capture_logs() as logs:
        with pytest.raises(Abort):
            await delete_then_fail()
        assert not [entry for entry in logs if entry["event"] == "tenancy.deleted"]
        assert (await remaining(runtime, tenant))["tenants"] == 1

        report = await delete(runtime, tenant.slug)

    events = [entry for entry in logs if entry["event"] == "tenancy.deleted"]
    assert len(events) == 1
    event = events[0]
    assert event["log_level"] == "warning"
    assert event["tenant_id"] == str(tenant.context.id)
    assert event["slug"] == tenant.slug
    assert event["actor"] == "test"
    assert event["counts"] == report.counts
    assert event["total"] == report.total

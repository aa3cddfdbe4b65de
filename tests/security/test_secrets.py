"""A tenant's shared secrets: sealed, rotated with an overlap, audited, never shared."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.errors import Invalid
from frontdesk.runtime import Runtime
from frontdesk.security.crypto import SealError, SecretBox
from frontdesk.security.models import AuditEvent, TenantSecret
from frontdesk.security.secrets import (
    IssuedSecret,
    SecretNotFound,
    active_secrets,
    create_secret,
    generate_secret,
    is_active,
    list_secrets,
    revoke_secret,
    rotate_secret,
)
from frontdesk.security.signatures import sign_request, verify_request
from frontdesk.settings import Settings
from frontdesk.store.scope import bind_tenant
from tests.factories import make_tenant

HOUR = timedelta(hours=1)


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.instance_key)


async def new_tenant(runtime: Runtime) -> uuid.UUID:
    return (await make_tenant(runtime, with_pack=False)).context.id


async def active(runtime: Runtime, box: SecretBox, tenant: uuid.UUID, purpose: str) -> list[str]:
    async with runtime.db.session() as session:
        return await active_secrets(session, box, tenant, purpose=purpose)  # type: ignore[arg-type]


async def rotate(
    runtime: Runtime, box: SecretBox, tenant: uuid.UUID, overlap: timedelta
) -> IssuedSecret:
    async with runtime.db.session() as session:
        return await rotate_secret(
            session, box, tenant, purpose="webhook", overlap=overlap, actor="test"
        )


def test_a_generated_secret_is_a_standard_webhooks_secret() -> None:
    value = generate_secret()
    assert value.startswith("whsec_")
    assert len(value) == 50  # whsec_ and 44 characters of base64 for 32 bytes
    assert generate_secret() != value
    headers = sign_request(value, b"{}")
    assert verify_request([value], headers, b"{}").msg_id == headers["webhook-id"]


def test_an_issued_secret_does_not_print_its_value() -> None:
    issued = IssuedSecret(row=TenantSecret(purpose="api", sealed="x", hint="h"), value="whsec_v")
    assert "whsec_v" not in repr(issued)


async def test_create_seals_and_returns_the_value_once(runtime: Runtime, box: SecretBox) -> None:
    tenant = await new_tenant(runtime)
    async with runtime.db.session() as session:
        issued = await create_secret(session, box, tenant, purpose="api", actor="test")
    assert issued.value.startswith("whsec_")
    assert issued.row.hint == issued.value[:12]
    assert issued.row.expires_at is None
    assert await active(runtime, box, tenant, "api") == [issued.value]
    assert await active(runtime, box, tenant, "webhook") == []


async def test_the_sealed_column_never_holds_the_value(runtime: Runtime, box: SecretBox) -> None:
    tenant = await new_tenant(runtime)
    async with runtime.db.session() as session:
        issued = await create_secret(session, box, tenant, purpose="identity", actor="test")
    async with runtime.db.session() as session:
        bind_tenant(session, tenant)
        stored = (
            await session.execute(
                select(TenantSecret.sealed, TenantSecret.hint).where(
                    TenantSecret.id == issued.row.id
                )
            )
        ).one()
    body = issued.value.removeprefix("whsec_")
    assert issued.value not in stored.sealed
    assert body not in stored.sealed
    assert body not in stored.hint
    # Sealed for this tenant and purpose: elsewhere it does not open.
    assert box.open(stored.sealed, context=f"{tenant}:identity") == issued.value
    with pytest.raises(SealError):
        box.open(stored.sealed, context=f"{tenant}:api")
    with pytest.raises(SealError):
        box.open(stored.sealed, context=f"{uuid.uuid4()}:identity")


async def test_rotation_with_an_overlap_keeps_both(runtime: Runtime, box: SecretBox) -> None:
    tenant = await new_tenant(runtime)
    first = await rotate(runtime, box, tenant, HOUR)  # nothing to rotate yet: just issues
    second = await rotate(runtime, box, tenant, HOUR)
    assert await active(runtime, box, tenant, "webhook") == [second.value, first.value]
    async with runtime.db.session() as session:
        rows = await list_secrets(session, tenant, purpose="webhook")
    assert [row.id for row in rows] == [second.row.id, first.row.id]
    assert rows[1].expires_at is not None
    assert timedelta(minutes=59) < rows[1].expires_at - rows[0].created_at <= HOUR
    assert rows[0].expires_at is None
    assert all(is_active(row) for row in rows)


async def test_rotation_without_overlap_keeps_only_the_new(
    runtime: Runtime, box: SecretBox
) -> None:
    tenant = await new_tenant(runtime)
    await rotate(runtime, box, tenant, HOUR)
    await rotate(runtime, box, tenant, HOUR)
    newest = await rotate(runtime, box, tenant, timedelta(0))
    assert await active(runtime, box, tenant, "webhook") == [newest.value]
    async with runtime.db.session() as session:
        rows = await list_secrets(session, tenant)
    assert len(rows) == 3
    assert [is_active(row) for row in rows] == [True, False, False]


async def test_rotation_never_extends_an_earlier_end(runtime: Runtime, box: SecretBox) -> None:
    tenant = await new_tenant(runtime)
    first = await rotate(runtime, box, tenant, HOUR)
    await rotate(runtime, box, tenant, HOUR)
    await rotate(runtime, box, tenant, timedelta(days=7))
    async with runtime.db.session() as session:
        rows = {row.id: row for row in await list_secrets(session, tenant)}
    first_end = rows[first.row.id].expires_at
    assert first_end is not None
    assert first_end - rows[first.row.id].created_at <= HOUR + timedelta(seconds=5)


async def test_rotation_touches_only_its_purpose(runtime: Runtime, box: SecretBox) -> None:
    tenant = await new_tenant(runtime)
    async with runtime.db.session() as session:
        api = await create_secret(session, box, tenant, purpose="api", actor="test")
    await rotate(runtime, box, tenant, timedelta(0))
    assert await active(runtime, box, tenant, "api") == [api.value]


async def test_other_tenants_never_see_a_tenants_secrets(runtime: Runtime, box: SecretBox) -> None:
    tenant_a, tenant_b = await new_tenant(runtime), await new_tenant(runtime)
    async with runtime.db.session() as session:
        issued = await create_secret(session, box, tenant_a, purpose="api", actor="test")
    assert await active(runtime, box, tenant_b, "api") == []
    async with runtime.db.session() as session:
        assert list(await list_secrets(session, tenant_b)) == []
        with pytest.raises(SecretNotFound):
            await revoke_secret(session, tenant_b, issued.row.id, actor="test")
    async with runtime.db.session() as session:
        await rotate_secret(
            session, box, tenant_b, purpose="api", overlap=timedelta(0), actor="test"
        )
    # Tenant B's rotation left tenant A's secret alone.
    assert await active(runtime, box, tenant_a, "api") == [issued.value]


async def test_revoke_stops_a_secret_at_once(runtime: Runtime, box: SecretBox) -> None:
    tenant = await new_tenant(runtime)
    async with runtime.db.session() as session:
        issued = await create_secret(session, box, tenant, purpose="api", actor="test")
    async with runtime.db.session() as session:
        row = await revoke_secret(session, tenant, issued.row.id, actor="test")
        assert not is_active(row)
    assert await active(runtime, box, tenant, "api") == []


async def test_audit_rows_never_hold_the_secret(runtime: Runtime, box: SecretBox) -> None:
    tenant = await new_tenant(runtime)
    async with runtime.db.session() as session:
        created = await create_secret(session, box, tenant, purpose="webhook", actor="alice")
    rotated = await rotate(runtime, box, tenant, HOUR)
    async with runtime.db.session() as session:
        await revoke_secret(session, tenant, rotated.row.id, actor="bob")
    async with runtime.db.session() as session:
        bind_tenant(session, tenant)
        events = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.tenant_id == tenant, AuditEvent.action.like("secret.%"))
                    .order_by(AuditEvent.created_at)
                )
            )
            .scalars()
            .all()
        )
    assert [(e.action, e.target) for e in events] == [
        ("secret.created", str(created.row.id)),
        ("secret.rotated", str(rotated.row.id)),
        ("secret.revoked", str(rotated.row.id)),
    ]
    assert events[1].data == {
        "purpose": "webhook",
        "overlap_seconds": 3600,
        "expiring": [str(created.row.id)],
    }
    dumped = json.dumps([[e.actor, e.target, e.data] for e in events])
    for value in (created.value, rotated.value):
        assert value.removeprefix("whsec_") not in dumped
        assert value[:12] not in dumped


async def test_bad_purpose_and_overlap_are_refused(runtime: Runtime, box: SecretBox) -> None:
    tenant = await new_tenant(runtime)
    async with runtime.db.session() as session:
        with pytest.raises(Invalid, match="purpose"):
            await create_secret(session, box, tenant, purpose="ftp", actor="t")  # type: ignore[arg-type]
        with pytest.raises(Invalid, match="negative"):
            await rotate_secret(session, box, tenant, purpose="api", overlap=-HOUR, actor="test")
        with pytest.raises(Invalid, match="purpose"):
            await list_secrets(session, tenant, purpose="ftp")  # type: ignore[arg-type]


async def test_the_secret_cache_follows_every_change_at_once(
    runtime: Runtime, box: SecretBox
) -> None:
    """Creation, rotation and revocation announce the tenant, so the cached secrets (what a
    signed request is checked against) change with the table, on this instance at once."""
    tenant = await new_tenant(runtime)
    assert await runtime.secrets.active(None, tenant, purpose="api") == []
    async with runtime.db.session() as session:
        first = await create_secret(session, box, tenant, purpose="api", actor="test")
    assert await runtime.secrets.active(None, tenant, purpose="api") == [first.value]
    async with runtime.db.session() as session:
        second = await rotate_secret(
            session, box, tenant, purpose="api", overlap=HOUR, actor="test"
        )
    assert await runtime.secrets.active(None, tenant, purpose="api") == [
        second.value,
        first.value,
    ]
    async with runtime.db.session() as session:
        await revoke_secret(session, tenant, second.row.id, actor="test")
    assert await runtime.secrets.active(None, tenant, purpose="api") == [first.value]


async def test_the_secret_cache_reads_the_table_only_on_a_miss(
    runtime: Runtime, box: SecretBox
) -> None:
    """A change that was not announced (another instance's, before its message arrives) is
    not seen until the tenant is forgotten: the hit path does not touch the database."""
    tenant = await new_tenant(runtime)
    async with runtime.db.session() as session:
        issued = await create_secret(session, box, tenant, purpose="api", actor="test")
    # The creation's notice delivered now, so that the bus's own poll cannot forget the tenant
    # while this test looks.
    await runtime.bus.poll()
    assert await runtime.secrets.active(None, tenant, purpose="api") == [issued.value]
    async with runtime.db.session() as session:
        bind_tenant(session, tenant)
        row = await session.get(TenantSecret, issued.row.id)
        assert row is not None
        await session.delete(row)
    assert await runtime.secrets.active(None, tenant, purpose="api") == [issued.value]
    runtime.secrets.forget(str(tenant))
    assert await runtime.secrets.active(None, tenant, purpose="api") == []

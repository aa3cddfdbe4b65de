"""On PostgreSQL, row-level security keeps a forgotten tenant filter from leaking anything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from frontdesk.conversations.models import Contact, Message
from frontdesk.runtime import Runtime
from frontdesk.store.base import Base
from frontdesk.store.scope import bind_tenant, system_scope
from tests.factories import chat_with, make_tenant


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature; SQLite has one tenant filter")


async def test_rls_is_forced_on_every_tenant_table(runtime: Runtime, postgres_only: None) -> None:
    tenant_tables = {t.name for t in Base.metadata.sorted_tables if "tenant_id" in t.columns}
    async with runtime.db.session() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
                )
            )
        ).all()
        role = (
            await session.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    forced = {name for name, enabled, force in rows if enabled and force}
    assert tenant_tables, "no tenant tables found"
    assert tenant_tables <= forced, f"RLS not forced on {sorted(tenant_tables - forced)}"
    assert tuple(role) == (False, False), "the app must not connect as a role that bypasses RLS"


async def test_an_unscoped_query_sees_nothing_and_cannot_write(
    client, runtime: Runtime, postgres_only: None
) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(runtime)
    await chat_with(client, tenant, "Hola")
    async with runtime.db.session() as session:
        # No tenant bound, no filter: the policy returns nothing rather than everything.
        assert (await session.execute(select(func.count()).select_from(Message))).scalar() == 0
        assert (await session.execute(text("SELECT count(*) FROM contacts"))).scalar() == 0
    with pytest.raises(DBAPIError, match="row-level security"):
        async with runtime.db.session() as session:
            session.add(Contact(tenant_id=tenant.context.id, display_name="sneaky"))


async def test_a_bound_tenant_sees_only_its_rows_even_without_a_filter(
    client, runtime: Runtime, postgres_only: None
) -> None:  # type: ignore[no-untyped-def]
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    await chat_with(client, a, "Hola")
    await chat_with(client, b, "Hola")
    async with runtime.db.session() as session:
        bind_tenant(session, a.context.id)
        tenants_seen = (await session.execute(select(Message.tenant_id).distinct())).scalars().all()
        assert tenants_seen == [a.context.id]
        session.add(Contact(tenant_id=b.context.id, display_name="cross"))
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.flush()
        await session.rollback()


async def test_the_system_scope_is_narrowed_again_on_exit(
    client, runtime: Runtime, postgres_only: None
) -> None:  # type: ignore[no-untyped-def]
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    await chat_with(client, a, "Hola")
    await chat_with(client, b, "Hola")
    async with runtime.db.session() as session:
        bind_tenant(session, a.context.id)
        async with system_scope(session):
            wide = (await session.execute(select(Message.tenant_id).distinct())).scalars().all()
        narrow = (await session.execute(select(Message.tenant_id).distinct())).scalars().all()
    assert {a.context.id, b.context.id} <= set(wide)
    assert narrow == [a.context.id]

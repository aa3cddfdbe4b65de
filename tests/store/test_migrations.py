"""Migrations and models agree, on every backend the suite runs on."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from frontdesk.runtime import Runtime
from frontdesk.store.base import Base
from frontdesk.store.migrate import current_revision, head_revision


async def test_database_is_at_head_and_matches_the_models(runtime: Runtime) -> None:
    assert await current_revision(runtime.db.engine) == head_revision()
    async with runtime.db.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )
    assert diff == []


def test_every_tenant_table_has_an_indexed_tenant_id() -> None:
    for table in Base.metadata.sorted_tables:
        if table.name in {"tenants", "signing_keys", "invalidations"}:  # instance-level tables
            continue
        assert "tenant_id" in table.columns, table.name
        assert any(index.columns.keys()[0] == "tenant_id" for index in table.indexes), table.name

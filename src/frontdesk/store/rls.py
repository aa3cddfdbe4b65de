"""Row-level security for tenant tables (PostgreSQL), as the migrations apply it.

A row is visible and writable when it belongs to the tenant the transaction is bound to, or in
the deliberate system scope. Without a binding the setting is empty, NULLIF makes it NULL, and
nothing matches.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

RULE = (
    "current_setting('app.scope', true) = 'system' "
    "OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
)


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def enable(tables: Iterable[str]) -> None:
    """Force the tenant policy on ``tables`` (a no-op on other databases)."""
    if not _postgresql():
        return
    for table in tables:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({RULE}) WITH CHECK ({RULE})")


def disable(tables: Iterable[str]) -> None:
    """Undo ``enable``."""
    if not _postgresql():
        return
    for table in tables:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

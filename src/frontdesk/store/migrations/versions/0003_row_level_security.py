"""row-level security on every tenant table (PostgreSQL)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "api_keys",
    "audit_events",
    "channel_identities",
    "contacts",
    "conversations",
    "leads",
    "messages",
    "outbox_jobs",
    "revoked_tokens",
    "tenant_secrets",
)
# Rows of the tenant the transaction is bound to, or every row in the deliberate system scope.
# Without a binding the setting is empty, NULLIF makes it NULL, and nothing matches.
RULE = (
    "current_setting('app.scope', true) = 'system' "
    "OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({RULE}) WITH CHECK ({RULE})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

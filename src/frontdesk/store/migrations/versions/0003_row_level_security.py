"""row-level security on every tenant table (PostgreSQL)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:20:00
"""

from collections.abc import Sequence

from frontdesk.store import rls

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


def upgrade() -> None:
    rls.enable(TENANT_TABLES)


def downgrade() -> None:
    rls.disable(TENANT_TABLES)

"""channel connections, transfer codes, provider ids of sent messages

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 20:01:18.328532
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import frontdesk.store.base
from frontdesk.store import rls

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("channel_connections", "transfer_codes")


def upgrade() -> None:
    op.create_table(
        "channel_connections",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("credentials", sa.String(length=4000), nullable=False),
        sa.Column("verify_token_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_channel_connections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_connections")),
        sa.UniqueConstraint(
            "kind", "account_id", name=op.f("uq_channel_connections_kind_account_id")
        ),
    )
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_connections_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_channel_connections_verify_token_hash"),
            ["verify_token_hash"],
            unique=False,
        )

    op.create_table(
        "transfer_codes",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_transfer_codes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transfer_codes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_codes")),
        sa.UniqueConstraint(
            "tenant_id", "code_hash", name=op.f("uq_transfer_codes_tenant_id_code_hash")
        ),
    )
    with op.batch_alter_table("transfer_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_codes_tenant_id"), ["tenant_id"], unique=False
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_id", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_messages_tenant_id_channel_provider_id"),
            ["tenant_id", "channel", "provider_id"],
            unique=False,
        )

    rls.enable(TENANT_TABLES)


def downgrade() -> None:
    rls.disable(TENANT_TABLES)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_tenant_id_channel_provider_id"))
        batch_op.drop_column("provider_id")

    with op.batch_alter_table("transfer_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_codes_tenant_id"))

    op.drop_table("transfer_codes")
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_connections_verify_token_hash"))
        batch_op.drop_index(batch_op.f("ix_channel_connections_tenant_id"))

    op.drop_table("channel_connections")

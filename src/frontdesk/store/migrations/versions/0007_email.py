"""email threads and mailbox polling state

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import frontdesk.store.base
from frontdesk.store import rls

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("email_threads", "email_mailboxes")


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "email_threads",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column(
            "references",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_email_threads_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_email_threads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_threads")),
        sa.UniqueConstraint(
            "tenant_id",
            "conversation_id",
            name=op.f("uq_email_threads_tenant_id_conversation_id"),
        ),
        sa.UniqueConstraint("token", name=op.f("uq_email_threads_token")),
    )
    with op.batch_alter_table("email_threads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_threads_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "email_mailboxes",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("polled_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        *_common(),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["channel_connections.id"],
            name=op.f("fk_email_mailboxes_connection_id_channel_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_email_mailboxes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_mailboxes")),
        sa.UniqueConstraint(
            "connection_id", "mailbox", name=op.f("uq_email_mailboxes_connection_id_mailbox")
        ),
    )
    with op.batch_alter_table("email_mailboxes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_mailboxes_tenant_id"), ["tenant_id"], unique=False
        )

    rls.enable(TENANT_TABLES)


def downgrade() -> None:
    rls.disable(TENANT_TABLES)
    with op.batch_alter_table("email_mailboxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_mailboxes_tenant_id"))
    op.drop_table("email_mailboxes")
    with op.batch_alter_table("email_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_threads_tenant_id"))
    op.drop_table("email_threads")

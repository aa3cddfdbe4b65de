"""CRM records: what each lead is in the tenant's CRM

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import frontdesk.store.base
from frontdesk.store import rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("crm_records",)


def upgrade() -> None:
    op.create_table(
        "crm_records",
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("contact_ref", sa.String(length=64), nullable=True),
        sa.Column("deal_ref", sa.String(length=64), nullable=True),
        sa.Column("note_ref", sa.String(length=64), nullable=True),
        sa.Column("pushed_stage", sa.String(length=64), nullable=True),
        sa.Column("crm_stage", sa.String(length=64), nullable=True),
        sa.Column("pushes", sa.Integer(), nullable=False),
        sa.Column("pushed_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", frontdesk.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_crm_records_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crm_records_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_records")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "lead_id",
            name=op.f("uq_crm_records_tenant_id_provider_lead_id"),
        ),
    )
    with op.batch_alter_table("crm_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_records_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_crm_records_tenant_id_provider_deal_ref"),
            ["tenant_id", "provider", "deal_ref"],
            unique=False,
        )

    rls.enable(TENANT_TABLES)


def downgrade() -> None:
    rls.disable(TENANT_TABLES)
    with op.batch_alter_table("crm_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_records_tenant_id_provider_deal_ref"))
        batch_op.drop_index(batch_op.f("ix_crm_records_tenant_id"))

    op.drop_table("crm_records")

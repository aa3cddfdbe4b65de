"""the engine's per-conversation state, purchase-intention score and stage

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 20:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "engine_state",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(
            sa.Column("score", sa.Double(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(
            sa.Column("stage", sa.String(length=16), nullable=False, server_default="browsing")
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("stage")
        batch_op.drop_column("score")
        batch_op.drop_column("engine_state")

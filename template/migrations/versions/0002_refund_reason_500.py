"""A refund's reason holds what the API accepts: up to 500 characters (was 100).

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.alter_column(
            "reason", existing_type=sa.String(length=100), type_=sa.String(length=500)
        )


def downgrade() -> None:
    op.execute("UPDATE refunds SET reason = substr(reason, 1, 100) WHERE length(reason) > 100")
    with op.batch_alter_table("refunds") as batch:
        batch.alter_column(
            "reason", existing_type=sa.String(length=500), type_=sa.String(length=100)
        )

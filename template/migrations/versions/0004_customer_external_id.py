"""Customers are identified by the merchant's own id (`external_id`); the email is optional.

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch.create_unique_constraint("uq_customers_external_id", ["external_id"])
        batch.alter_column("email", existing_type=sa.String(length=320), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE customers SET email = '' WHERE email IS NULL")
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("email", existing_type=sa.String(length=320), nullable=False)
        batch.drop_constraint("uq_customers_external_id", type_="unique")
        batch.drop_column("external_id")

"""Tax computed by the processor (TAX_MODE=processor): the tax a payment's amount and an
invoice include.

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("amount_tax", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("amount_tax", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("amount_tax")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("amount_tax")

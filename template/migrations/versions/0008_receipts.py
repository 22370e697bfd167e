"""Receipts: the processor's receipt page of a payment and the PDF of an invoice, where the
processor has them (Stripe: both; Square: the payment's receipt).

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("receipt_url", sa.Text(), nullable=True))
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("invoice_pdf", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("invoice_pdf")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("receipt_url")

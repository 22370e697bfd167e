"""Saved payment methods and charges without a checkout page: payments may wait for the
customer's authentication (`requires_action`) or be held for a later capture
(`authorized`, `capture_method` "manual", `amount_authorized`), and name the saved method
an off-session charge used; PayPal customers are linked anew (its vault's ids).

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = (
    "'pending', 'succeeded', 'failed', 'canceled', 'refunded', 'partially_refunded', 'disputed'"
)
NEW_STATUSES = (
    "'pending', 'requires_action', 'authorized', 'succeeded', 'failed', 'canceled', "
    "'refunded', 'partially_refunded', 'disputed'"
)


def upgrade() -> None:
    # PayPal's subscriptions linked each customer to our own id, which was never sent to
    # PayPal; its vault takes a customer id of at most 22 characters, which the adapter now
    # makes (and links) when one is first needed.
    op.execute(
        "DELETE FROM processor_customers "
        "WHERE processor = 'paypal' AND processor_customer_id = customer_id"
    )
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column(
                "capture_method", sa.String(length=10), server_default="automatic", nullable=False
            )
        )
        batch.add_column(sa.Column("amount_authorized", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("payment_method_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_payments_payment_method_id_payment_methods"),
            "payment_methods",
            ["payment_method_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.drop_constraint(op.f("ck_payments_status"), type_="check")
        batch.create_check_constraint(op.f("ck_payments_status"), f"status IN ({NEW_STATUSES})")
        batch.create_check_constraint(
            op.f("ck_payments_capture_method"), "capture_method IN ('automatic', 'manual')"
        )


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("ck_payments_capture_method"), type_="check")
        batch.drop_constraint(op.f("ck_payments_status"), type_="check")
        batch.create_check_constraint(op.f("ck_payments_status"), f"status IN ({OLD_STATUSES})")
        batch.drop_constraint(
            op.f("fk_payments_payment_method_id_payment_methods"), type_="foreignkey"
        )
        batch.drop_column("payment_method_id")
        batch.drop_column("amount_authorized")
        batch.drop_column("capture_method")

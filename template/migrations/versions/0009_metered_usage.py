"""Metered plans: the meter of a synced plan's price, and the usage reported for metered
subscriptions (kept before it is sent to the processor, sent again until accepted).

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_prices") as batch:
        batch.add_column(sa.Column("meter", sa.String(length=100), nullable=True))
    op.create_table(
        "usage_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_usage_records_quantity_positive")),
        sa.CheckConstraint(
            "status IN ('pending', 'reported', 'refused', 'unconfirmed')",
            name=op.f("ck_usage_records_status"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_usage_records_subscription_id_subscriptions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
    )
    op.create_index("ix_usage_records_status_created_at", "usage_records", ["status", "created_at"])
    op.create_index(op.f("ix_usage_records_subscription_id"), "usage_records", ["subscription_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_usage_records_subscription_id"), table_name="usage_records")
    op.drop_index("ix_usage_records_status_created_at", table_name="usage_records")
    op.drop_table("usage_records")
    with op.batch_alter_table("catalog_prices") as batch:
        batch.drop_column("meter")

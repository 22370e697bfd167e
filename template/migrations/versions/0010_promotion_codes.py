"""Promotion codes: the catalog's coupons as made at each processor, and the code and
discount of a payment (and the code a subscription was started with).

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_coupons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("processor", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("terms", sa.String(length=200), nullable=False),
        sa.Column("processor_coupon_id", sa.String(length=255), nullable=False),
        sa.Column("processor_code_id", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_coupons")),
        sa.UniqueConstraint(
            "processor",
            "processor_code_id",
            name=op.f("uq_catalog_coupons_processor_processor_code_id"),
        ),
    )
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("promotion_code", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("amount_discount", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("promotion_code", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("promotion_code")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("amount_discount")
        batch.drop_column("promotion_code")
    op.drop_table("catalog_coupons")

"""The outbox: merchant-facing events and their deliveries to each destination.

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("processor_event_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_events")),
        sa.UniqueConstraint("position", name=op.f("uq_merchant_events_position")),
    )
    op.create_index(
        "ix_merchant_events_object", "merchant_events", ["object_type", "object_id"], unique=False
    )
    op.create_table(
        "merchant_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')",
            name=op.f("ck_merchant_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["merchant_events.id"],
            name=op.f("fk_merchant_deliveries_event_id_merchant_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_deliveries")),
        sa.UniqueConstraint(
            "event_id", "endpoint", name=op.f("uq_merchant_deliveries_event_id_endpoint")
        ),
    )
    op.create_index(
        "ix_merchant_deliveries_due",
        "merchant_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_merchant_deliveries_lane", "merchant_deliveries", ["lane", "position"], unique=False
    )


def downgrade() -> None:
    op.drop_table("merchant_deliveries")
    op.drop_table("merchant_events")

"""Indexes for operating the service (metrics.py, `status`): each processor's last event
processed, and the amount mismatches in the payments' history.

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_events_processor_processed_at",
        "webhook_events",
        ["processor", "processed_at"],
    )
    op.create_index("ix_payment_events_type", "payment_events", ["type"])


def downgrade() -> None:
    op.drop_index("ix_payment_events_type", table_name="payment_events")
    op.drop_index("ix_webhook_events_processor_processed_at", table_name="webhook_events")

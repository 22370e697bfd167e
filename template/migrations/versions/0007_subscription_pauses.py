"""Paused subscriptions: when a scheduled pause starts (Square pauses at the next billing
date) and when a paused subscription resumes by itself.

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("pauses_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resumes_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("resumes_at")
        batch.drop_column("pauses_at")

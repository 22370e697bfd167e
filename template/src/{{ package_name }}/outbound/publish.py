"""Publishing: each new event gets its position (the order in which events became
visible, which GET /api/events pages by) and a delivery per destination.

Positions are assigned only to committed events, one publisher at a time (an advisory lock
on PostgreSQL; SQLite serializes writers), so an event that commits late is published
after the others and no reader paging `after=` ever skips it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ..models import MerchantDelivery, MerchantEvent

#: The advisory lock publishers take in turn (PostgreSQL): any constant of our own.
PUBLISH_LOCK = 0x6F7574626F78  # "outbox"
BATCH = 500


def lane(destination: str, event: MerchantEvent) -> str:
    """One object's events for one destination: they reach it in order (a fixed-size
    digest, so that the claim's lookup is one short index key)."""
    key = f"{destination}\n{event.object_type}:{event.object_id}"
    return hashlib.sha256(key.encode()).hexdigest()


def publish(
    sessions: sessionmaker[Session], destinations: Sequence[str], limit: int = BATCH
) -> int:
    """Publish up to `limit` new events, oldest first; how many were published."""
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PUBLISH_LOCK})
        rows = session.scalars(
            select(MerchantEvent)
            .where(MerchantEvent.position.is_(None))
            .order_by(MerchantEvent.created_at, MerchantEvent.id)
            .limit(limit)
        ).all()
        if not rows:
            return 0
        top = session.scalar(select(func.max(MerchantEvent.position))) or 0
        for row in rows:
            top += 1
            row.position = top
            for destination in destinations:
                session.add(
                    MerchantDelivery(
                        event_id=row.id,
                        endpoint=destination,
                        position=top,
                        lane=lane(destination, row),
                    )
                )
        return len(rows)

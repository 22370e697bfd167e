"""The inbox: every verified delivery is stored before it is processed (by the worker).

Storing is idempotent per (processor, event id): a duplicate delivery is acknowledged and
has no second effect. A test-mode event reaching a live service, or the reverse, and an
event type nobody handles, are stored as `ignored`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..models import WebhookEvent
from ..processors.base import WebhookEvent as Delivery
from .handlers import HANDLERS


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool


def store(sessions: sessionmaker[Session], delivery: Delivery, body: bytes, live: bool) -> Stored:
    """Record a verified delivery; a second delivery of the same event is a duplicate."""
    wrong_mode = delivery.livemode is not None and delivery.livemode != live
    row = WebhookEvent(
        processor=delivery.processor,
        event_id=delivery.event_id,
        type=delivery.type,
        livemode=delivery.livemode,
        payload=body.decode("utf-8"),
        event_created_at=delivery.created_at,
        status="pending" if delivery.type in HANDLERS and not wrong_mode else "ignored",
        last_error="livemode does not match this service" if wrong_mode else None,
    )
    try:
        with sessions.begin() as session:
            session.add(row)
        return Stored(row.id, duplicate=False)
    except IntegrityError:
        with sessions() as session:
            existing = session.scalars(
                select(WebhookEvent.id).where(
                    WebhookEvent.processor == delivery.processor,
                    WebhookEvent.event_id == delivery.event_id,
                )
            ).one()
        return Stored(existing, duplicate=True)

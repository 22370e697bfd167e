"""The inbox: every verified delivery is stored before it is processed.

Storing is idempotent per (processor, event id): a duplicate delivery is acknowledged and
has no second effect. Processing happens after the delivery is committed; a failure is
recorded on the event (status `failed`, attempts, last error), never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..domain.errors import DomainError
from ..models import WebhookEvent, utcnow
from ..processors.base import WebhookEvent as Delivery
from .handlers import HANDLERS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool


def store(sessions: sessionmaker[Session], delivery: Delivery, body: bytes) -> Stored:
    """Record a verified delivery; a second delivery of the same event is a duplicate."""
    row = WebhookEvent(
        processor=delivery.processor,
        event_id=delivery.event_id,
        type=delivery.type,
        livemode=delivery.livemode,
        payload=body.decode("utf-8"),
        event_created_at=delivery.created_at,
        status="pending" if delivery.type in HANDLERS else "ignored",
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


def process(sessions: sessionmaker[Session], event_id: int, delivery: Delivery) -> str:
    """Apply a stored event to the domain; its effect and its outcome commit together."""
    handler = HANDLERS.get(delivery.type)
    if handler is None:
        return "ignored"
    try:
        with sessions.begin() as session:
            row = session.get_one(WebhookEvent, event_id, with_for_update=True)
            if row.status in ("processed", "ignored"):
                return row.status
            handler(session, delivery)
            row.status = "processed"
            row.processed_at = utcnow()
            row.attempts += 1
        return "processed"
    except DomainError as exc:
        outcome, error = "failed", exc.message
    except Exception as exc:
        log.exception("webhook %s %s failed", delivery.processor, delivery.type)
        outcome, error = "failed", type(exc).__name__
    with sessions.begin() as session:
        row = session.get_one(WebhookEvent, event_id)
        row.status = outcome
        row.attempts += 1
        row.last_error = error
    return outcome

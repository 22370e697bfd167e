"""Disputes: each keeps the state of its newest event, and moves its payment.

`version` (the processor's own update time, or the event's) guards against an older event
arriving later; open or lost disputes make the payment disputed, a won or closed one gives
it back its refund-derived status (`payments.converge`).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Dispute
from ..processors.base import WebhookEvent
from .facts import DisputeObserved
from .payments import Cause, converge, require_payment

log = logging.getLogger(__name__)


def observe(session: Session, event: WebhookEvent, fact: DisputeObserved) -> None:
    """Create or update a dispute (its newest state wins), then converge the payment."""
    payment = require_payment(session, event.processor, fact.ref, f"dispute {fact.dispute_id}")
    row = session.scalars(
        select(Dispute).where(
            Dispute.processor == event.processor, Dispute.processor_dispute_id == fact.dispute_id
        )
    ).first()
    if row is None:
        row = Dispute(
            processor=event.processor,
            processor_dispute_id=fact.dispute_id,
            payment_id=payment.id,
            amount=fact.amount,
            currency=fact.currency or payment.currency,
            status="needs_response",
        )
        session.add(row)
    elif row.processor_updated_at and fact.version and fact.version < row.processor_updated_at:
        log.info("older dispute event ignored", extra={"dispute": fact.dispute_id})
        return
    row.status = fact.status or row.status
    row.reason = fact.reason or row.reason
    row.evidence_due_by = fact.due_by or row.evidence_due_by
    row.processor_updated_at = fact.version
    session.flush()
    converge(session, payment, Cause.of(event), disputes_changed=True)

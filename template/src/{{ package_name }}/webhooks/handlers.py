"""What each event does to the domain. Stripe's event shapes; the fake processor uses them too.

Ordering: an event only moves a payment forward along the state machine. An event that
arrives after a later one (a `checkout.session.completed` for a payment already refunded)
finds a status it may not change and is recorded without effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..domain.payments import TRANSITIONS, transition
from ..models import Payment
from ..processors.base import WebhookEvent

log = logging.getLogger(__name__)

Handler = Callable[[Session, WebhookEvent], None]


def _payment_for_session(session: Session, event: WebhookEvent) -> Payment | None:
    data: Mapping[str, Any] = event.data
    ours = data.get("client_reference_id") or (data.get("metadata") or {}).get("payment_id")
    return session.scalars(
        select(Payment)
        .where(
            or_(Payment.id == ours, Payment.processor_ref == data.get("id")),
            Payment.processor == event.processor,
        )
        .with_for_update()
    ).first()


def _move(session: Session, event: WebhookEvent, to: str) -> None:
    payment = _payment_for_session(session, event)
    if payment is None:
        log.warning("%s %s for an unknown payment", event.processor, event.type)
        return
    intent = event.data.get("payment_intent")
    if isinstance(intent, str):
        payment.processor_payment_id = intent
    if event.livemode is not None:
        payment.livemode = event.livemode
    if to == payment.status or to not in TRANSITIONS[payment.status]:
        log.info(
            "event does not change the payment",
            extra={"payment_id": payment.id, "status": payment.status, "event": event.type},
        )
        return
    transition(session, payment, to, event_type=event.type, processor_event_id=event.event_id)
    payment.processor_updated_at = event.created_at


def checkout_completed(session: Session, event: WebhookEvent) -> None:
    # A delayed payment method (a bank debit) completes the session unpaid: it stays pending.
    if event.data.get("payment_status") in ("paid", "no_payment_required"):
        _move(session, event, "succeeded")
    else:
        _move(session, event, "pending")


def payment_failed(session: Session, event: WebhookEvent) -> None:
    """A declined attempt: recorded on the payment; the buyer may try again."""
    payment = _payment_for_session(session, event)
    if payment is None:
        return
    error = event.data.get("last_payment_error") or {}
    payment.failure_code = error.get("decline_code") or error.get("code")
    payment.failure_message = error.get("message")


#: Event type -> effect. The generation trace lists these keys (hooks/trace_generation.py).
HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": lambda s, e: _move(s, e, "succeeded"),
    "checkout.session.async_payment_failed": lambda s, e: _move(s, e, "failed"),
    "checkout.session.expired": lambda s, e: _move(s, e, "canceled"),
    "payment_intent.payment_failed": payment_failed,
}

"""What each event does to the domain. Stripe's event shapes; the fake processor uses them too.

Ordering never matters: events are facts, and a payment's status is derived from the facts
recorded so far, then reached through allowed transitions only.

- Paid: a completed (paid) session, a succeeded PaymentIntent, or any charge, refund or
  dispute event (they imply a charge) makes a pending payment paid.
- Refunded: `amount_refunded` only grows (the charge's cumulative amount, or our own
  succeeded refunds), so a late or repeated event cannot count twice.
- Disputed: each dispute keeps the state of its newest event (`processor_updated_at`
  guards against an older event arriving later); open or lost disputes make the payment
  disputed, a won dispute gives it back its refund-derived status.
- An event about a payment not known yet (a dispute before the session completed) fails
  and is retried by the worker with backoff, until the payment is known.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..domain.errors import DomainError
from ..domain.payments import TRANSITIONS, transition
from ..models import Dispute, Payment, Refund
from ..processors.base import WebhookEvent

log = logging.getLogger(__name__)

Handler = Callable[[Session, WebhookEvent], None]
OPEN_DISPUTES = ("needs_response", "under_review", "lost")
DISPUTE_STATUSES = {
    "warning_needs_response": "needs_response",
    "needs_response": "needs_response",
    "warning_under_review": "under_review",
    "under_review": "under_review",
    "won": "won",
    "lost": "lost",
    "warning_closed": "closed",
    "prevented": "closed",
}


class PaymentNotKnownYet(DomainError):
    """Retried later: the event that introduces the payment has not been applied yet."""


def _intent(data: Mapping[str, Any]) -> Any:
    """The PaymentIntent an object is, or refers to."""
    return data.get("id") if data.get("object") == "payment_intent" else data.get("payment_intent")


def _find(session: Session, event: WebhookEvent) -> Payment | None:
    """The payment an event is about: by our id, else the processor's payment, else its checkout."""
    data: Mapping[str, Any] = event.data
    ours = data.get("client_reference_id") or (data.get("metadata") or {}).get("payment_id")
    intent = _intent(data)
    lookups = [
        (Payment.id, ours),
        (Payment.processor_payment_id, intent),
        (Payment.processor_ref, data.get("id")),
    ]
    for attempt in range(2):
        if attempt:
            session.flush()  # an earlier event of this batch may have just linked it
        for column, value in lookups:
            if isinstance(value, str) and value:
                found = session.scalars(
                    select(Payment)
                    .where(column == value, Payment.processor == event.processor)
                    .with_for_update()
                ).first()
                if found is not None:
                    return found
    return None


def _require(session: Session, event: WebhookEvent) -> Payment:
    payment = _find(session, event)
    if payment is None:
        raise PaymentNotKnownYet(f"no payment for {event.type} {event.data.get('id')} yet")
    return payment


def route(start: str, goal: str) -> list[str]:
    """The shortest chain of allowed transitions from `start` to `goal` ([] if none)."""
    paths: deque[list[str]] = deque([[start]])
    seen = {start}
    while paths:
        path = paths.popleft()
        if path[-1] == goal:
            return path[1:]
        for nxt in sorted(TRANSITIONS[path[-1]] - seen):
            seen.add(nxt)
            paths.append([*path, nxt])
    return []


def derived_status(session: Session, payment: Payment, paid: bool, event: WebhookEvent) -> str:
    if payment.status in ("pending", "failed", "canceled") and not paid:
        return payment.status
    # An open dispute has made the payment disputed, or arrives now: only then look.
    may_be_disputed = payment.status == "disputed" or event.type.startswith("charge.dispute.")
    open_dispute = may_be_disputed and session.scalar(
        select(func.count()).where(
            Dispute.payment_id == payment.id, Dispute.status.in_(OPEN_DISPUTES)
        )
    )
    if open_dispute:
        return "disputed"
    if payment.amount_refunded >= payment.amount:
        return "refunded"
    return "partially_refunded" if payment.amount_refunded > 0 else "succeeded"


def converge(session: Session, payment: Payment, event: WebhookEvent, paid: bool = True) -> None:
    """Move the payment to the status its facts imply, through allowed transitions."""
    goal = derived_status(session, payment, paid, event)
    if goal == payment.status:
        return
    steps = route(payment.status, goal)
    if not steps:
        log.warning(
            "payment cannot reach its derived status",
            extra={"payment_id": payment.id, "from": payment.status, "to": goal},
        )
        return
    for step in steps:
        transition(session, payment, step, event_type=event.type, processor_event_id=event.event_id)
    payment.processor_updated_at = event.created_at


def _note_intent(payment: Payment, event: WebhookEvent) -> None:
    data = event.data
    intent = _intent(data)
    if isinstance(intent, str) and payment.processor_payment_id is None:
        payment.processor_payment_id = intent
    if event.livemode is not None:
        payment.livemode = event.livemode


def checkout_completed(session: Session, event: WebhookEvent) -> None:
    payment = _require(session, event)
    _note_intent(payment, event)
    # A delayed method (a bank debit) completes the session unpaid: it stays pending.
    converge(session, payment, event, paid=event.data.get("payment_status") != "unpaid")


def paid(session: Session, event: WebhookEvent) -> None:
    payment = _require(session, event)
    _note_intent(payment, event)
    converge(session, payment, event)


def checkout_ended(to: str) -> Handler:
    """An unpaid session that expired or whose delayed payment failed."""

    def handle(session: Session, event: WebhookEvent) -> None:
        payment = _require(session, event)
        if payment.status == "pending":
            transition(
                session, payment, to, event_type=event.type, processor_event_id=event.event_id
            )

    return handle


def payment_failed(session: Session, event: WebhookEvent) -> None:
    """A declined attempt: recorded on the payment; the buyer may try again."""
    payment = _require(session, event)
    error = event.data.get("last_payment_error") or {}
    payment.failure_code = error.get("decline_code") or error.get("code")
    payment.failure_message = error.get("message")


def charge_refunded(session: Session, event: WebhookEvent) -> None:
    payment = _require(session, event)
    _note_intent(payment, event)
    refunded = int(event.data.get("amount_refunded") or 0)
    payment.amount_refunded = max(payment.amount_refunded, min(refunded, payment.amount))
    converge(session, payment, event)


def refund_updated(session: Session, event: WebhookEvent) -> None:
    data = event.data
    ours = (data.get("metadata") or {}).get("refund_id")
    refund = session.scalars(
        select(Refund).where(
            or_(Refund.processor_refund_id == data.get("id"), Refund.id == ours),
            Refund.processor == event.processor,
        )
    ).first()
    if refund is None:
        return  # a refund made outside this service: charge.refunded carries its amount
    status = data.get("status")
    if status in ("succeeded", "failed", "canceled") and refund.status == "pending":
        refund.status = status
        refund.processor_refund_id = refund.processor_refund_id or data.get("id")
        session.flush()
        payment = session.get_one(Payment, refund.payment_id, with_for_update=True)
        succeeded = session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.payment_id == payment.id, Refund.status == "succeeded"
            )
        )
        payment.amount_refunded = max(payment.amount_refunded, int(succeeded or 0))
        converge(session, payment, event)


def dispute(session: Session, event: WebhookEvent) -> None:
    data = event.data
    payment = _require(session, event)
    row = session.scalars(
        select(Dispute).where(
            Dispute.processor == event.processor, Dispute.processor_dispute_id == data["id"]
        )
    ).first()
    if row is None:
        row = Dispute(
            processor=event.processor,
            processor_dispute_id=data["id"],
            payment_id=payment.id,
            amount=int(data.get("amount") or 0),
            currency=str(data.get("currency") or payment.currency),
            status="needs_response",
        )
        session.add(row)
    elif (
        row.processor_updated_at
        and event.created_at
        and event.created_at < row.processor_updated_at
    ):
        log.info("older dispute event ignored", extra={"dispute": data["id"], "event": event.type})
        return
    row.status = DISPUTE_STATUSES.get(str(data.get("status")), row.status)
    row.reason = data.get("reason") or row.reason
    due = (data.get("evidence_details") or {}).get("due_by")
    if due:
        row.evidence_due_by = datetime.fromtimestamp(int(due), UTC)
    row.processor_updated_at = event.created_at
    session.flush()
    converge(session, payment, event)


#: Event type -> effect. The generation trace lists these keys (hooks/trace_generation.py).
HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": paid,
    "checkout.session.async_payment_failed": checkout_ended("failed"),
    "checkout.session.expired": checkout_ended("canceled"),
    "payment_intent.succeeded": paid,
    "payment_intent.payment_failed": payment_failed,
    "charge.refunded": charge_refunded,
    "refund.updated": refund_updated,
    "charge.dispute.created": dispute,
    "charge.dispute.updated": dispute,
    "charge.dispute.closed": dispute,
}

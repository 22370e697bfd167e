"""Payments: an explicit state machine, checkouts, refunds.

State only changes through `transition()`, which refuses (and logs) any change the table
below does not allow, and appends every change to `payment_events`, the payment's history.
Calls to processors happen outside database transactions (PayPal's capture is the one
exception, see `Payments.capture`); the rows they depend on are written first, so a crash
or timeout between the two is resumed, not duplicated, by a retry (the processor call
carries an idempotency key derived from our own ids).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ..models import Payment, PaymentEvent, Refund, utcnow
from ..processors.base import (
    CheckoutMode,
    CheckoutRequest,
    PaymentSnapshot,
    Processor,
    ProcessorError,
    RefundRequest,
)
from .catalog import active_price
from .errors import Conflict, IllegalTransition, NotFound, Unprocessable

log = logging.getLogger(__name__)

#: Allowed status changes. Anything else is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"succeeded", "failed", "canceled"}),
    "succeeded": frozenset({"partially_refunded", "refunded", "disputed"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded", "disputed"}),
    "disputed": frozenset({"succeeded", "partially_refunded", "refunded"}),
    "failed": frozenset(),
    "canceled": frozenset(),
    "refunded": frozenset(),
}
REFUNDABLE = frozenset({"succeeded", "partially_refunded"})
#: Processor failures after which the call may have happened, or may succeed if retried.
RETRYABLE = frozenset({"unavailable", "rate_limited", "error"})
#: Refunds that count against what is left to refund.
COUNTED_REFUNDS = ("pending", "succeeded")


def transition(
    session: Session,
    payment: Payment,
    to: str,
    *,
    event_type: str,
    amount: int | None = None,
    processor_event_id: str | None = None,
    message: str | None = None,
) -> None:
    """Move `payment` to `to`, recording the change; refuse an illegal change."""
    if to not in TRANSITIONS[payment.status]:
        log.warning(
            "illegal payment transition refused",
            extra={"payment_id": payment.id, "from": payment.status, "to": to, "event": event_type},
        )
        raise IllegalTransition(f"a {payment.status} payment cannot become {to}")
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            type=event_type,
            status_from=payment.status,
            status_to=to,
            amount=amount,
            processor_event_id=processor_event_id,
            message=message,
        )
    )
    payment.status = to


def processor_named(processors: Mapping[str, Processor], name: str) -> Processor:
    try:
        return processors[name]
    except KeyError:
        raise Unprocessable(
            f"processor {name!r} is not configured in this service "
            f"(available: {', '.join(sorted(processors)) or 'none'})"
        ) from None


@dataclass(frozen=True)
class NewCheckout:
    payment_id: str
    amount: int
    currency: str
    description: str
    processor: str
    success_url: str
    cancel_url: str
    customer_email: str | None = None
    reference: str | None = None
    product_key: str | None = None
    mode: CheckoutMode = "hosted"


@dataclass(frozen=True)
class Started:
    payment: Payment
    #: For embedded checkout: what the processor's script needs (never stored).
    client_secret: str | None = None


class Payments:
    def __init__(
        self, sessions: sessionmaker[Session], processors: Mapping[str, Processor]
    ) -> None:
        self.sessions = sessions
        self.processors = processors

    def processor(self, name: str) -> Processor:
        return processor_named(self.processors, name)

    def get(self, payment_id: str) -> Payment:
        with self.sessions() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise NotFound(f"no payment {payment_id}")
            return payment

    def create_checkout(self, new: NewCheckout) -> Started:
        """Create the payment (or resume it) and its checkout at the processor."""
        adapter = self.processor(new.processor)
        with self.sessions.begin() as session:
            payment = session.get(Payment, new.payment_id)
            if payment is None:
                payment = Payment(
                    id=new.payment_id,
                    processor=new.processor,
                    amount=new.amount,
                    currency=new.currency,
                    description=new.description,
                    reference=new.reference,
                    product_key=new.product_key,
                )
                session.add(payment)
                session.add(
                    PaymentEvent(payment_id=new.payment_id, type="created", status_to="pending")
                )
            elif payment.processor_ref is not None and new.mode == "hosted":
                return Started(payment)
            price_ref = None
            if new.product_key is not None:
                price_ref = active_price(
                    session, new.processor, new.product_key, new.amount, new.currency
                )
        checkout = adapter.create_checkout(
            CheckoutRequest(
                payment_id=new.payment_id,
                amount=new.amount,
                currency=new.currency,
                description=new.description,
                success_url=new.success_url,
                cancel_url=new.cancel_url,
                customer_email=new.customer_email,
                mode=new.mode,
                price_ref=price_ref,
            )
        )
        with self.sessions.begin() as session:
            payment = session.get_one(Payment, new.payment_id)
            payment.processor_ref = checkout.processor_ref
            payment.checkout_url = checkout.url
        return Started(payment, checkout.client_secret)

    def refund(
        self, payment_id: str, refund_id: str, amount: int | None, reason: str | None
    ) -> Refund:
        """Refund all or part of what is left; refuse more than that before any call."""
        with self.sessions.begin() as session:
            existing = session.get(Refund, refund_id)
            if existing is not None:
                return existing
            payment = session.scalars(
                select(Payment).where(Payment.id == payment_id).with_for_update()
            ).one_or_none()
            if payment is None:
                raise NotFound(f"no payment {payment_id}")
            if payment.status not in REFUNDABLE:
                raise Conflict(f"a {payment.status} payment cannot be refunded")
            counted = session.scalar(
                select(func.coalesce(func.sum(Refund.amount), 0)).where(
                    Refund.payment_id == payment_id, Refund.status.in_(COUNTED_REFUNDS)
                )
            )
            refundable = payment.amount - int(counted or 0)
            amount = refundable if amount is None else amount
            if amount <= 0 or amount > refundable:
                raise Unprocessable(
                    f"refund amount {amount} exceeds the refundable remainder {refundable} "
                    f"{payment.currency}"
                )
            if payment.processor_payment_id is None:
                raise Conflict("the processor has not confirmed this payment yet")
            refund = Refund(
                id=refund_id,
                payment_id=payment_id,
                processor=payment.processor,
                amount=amount,
                currency=payment.currency,
                reason=reason,
            )
            session.add(refund)
            request = RefundRequest(
                refund_id=refund_id,
                processor_payment_id=payment.processor_payment_id,
                amount=amount,
                currency=payment.currency,
                reason=reason,
            )
        adapter = self.processor(payment.processor)
        try:
            result = adapter.refund(request)
        except ProcessorError as exc:
            with self.sessions.begin() as session:
                refund = session.get_one(Refund, refund_id)
                if exc.kind in RETRYABLE:
                    # Outcome unknown: forget the attempt, so a retry (same id, same
                    # processor idempotency key) finds out instead of returning "failed".
                    session.delete(refund)
                else:
                    refund.status = "failed"
                    refund.failure_reason = exc.message
            raise
        except Exception:
            with self.sessions.begin() as session:
                session.delete(session.get_one(Refund, refund_id))
            raise
        with self.sessions.begin() as session:
            refund = session.get_one(Refund, refund_id)
            refund.processor_refund_id = result.processor_refund_id
            if result.status == "succeeded":
                self._apply_refund(session, refund)
            else:
                refund.status = result.status
        return refund

    def _apply_refund(self, session: Session, refund: Refund) -> None:
        """A refund succeeded: count it once, whether or not an event counted it first."""
        payment = session.scalars(
            select(Payment).where(Payment.id == refund.payment_id).with_for_update()
        ).one()
        refund.status = "succeeded"
        session.flush()
        succeeded = session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.payment_id == payment.id, Refund.status == "succeeded"
            )
        )
        payment.amount_refunded = max(payment.amount_refunded, int(succeeded or 0))
        to = "refunded" if payment.amount_refunded >= payment.amount else "partially_refunded"
        if to in TRANSITIONS[payment.status]:
            transition(session, payment, to, event_type="refund.succeeded", amount=refund.amount)

    def apply_snapshot(self, payment_id: str) -> Payment:
        """Bring a pending payment up to date from the processor (after a redirect or event)."""
        payment = self.get(payment_id)
        if payment.processor_ref is None:
            return payment
        snapshot = self.processor(payment.processor).retrieve_payment(payment.processor_ref)
        return self._sync(payment_id, snapshot, "processor.sync")

    def capture(self, payment_id: str) -> Payment:
        """Capture an approved payment (PayPal), once, whoever asks first.

        The buyer's return and the processor's approval event may both ask at the same time.
        Unlike other processor calls, this one runs under the payment's row lock: the second
        caller waits, then finds the payment captured and calls nobody. (On SQLite, which
        has no row locks, the processor's idempotency key and its "already captured" answer
        keep it to one capture.)
        """
        with self.sessions.begin() as session:
            payment = session.scalars(
                select(Payment).where(Payment.id == payment_id).with_for_update()
            ).one_or_none()
            if payment is None:
                raise NotFound(f"no payment {payment_id}")
            if payment.status != "pending" or payment.processor_ref is None:
                return payment
            snapshot = self.processor(payment.processor).capture(payment.processor_ref)
            apply_payment_snapshot(session, payment, snapshot, "processor.capture")
        return payment

    def _sync(self, payment_id: str, snapshot: PaymentSnapshot, event_type: str) -> Payment:
        with self.sessions.begin() as session:
            payment = session.get_one(Payment, payment_id, with_for_update=True)
            apply_payment_snapshot(session, payment, snapshot, event_type)
        return payment


def apply_payment_snapshot(
    session: Session, payment: Payment, snapshot: PaymentSnapshot, event_type: str
) -> None:
    """The processor's view of a payment, applied to a locked row (a pending one only moves)."""
    if payment.processor_payment_id is None:
        payment.processor_payment_id = snapshot.processor_payment_id
    payment.livemode = snapshot.livemode
    if snapshot.failure_code:
        payment.failure_code = snapshot.failure_code
    if snapshot.status != payment.status and payment.status == "pending":
        transition(session, payment, snapshot.status, event_type=event_type)
    payment.processor_updated_at = utcnow()

"""Payments: an explicit state machine, checkouts, captures, refunds, and what processor
events say of them.

State only changes through `transition()`, which refuses (and logs) any change the table
below does not allow, and appends every change to `payment_events`, the payment's history.
Events are facts: a payment's status is derived from the facts recorded so far
(`converge`), then reached through allowed transitions only, so the order in which they
arrive never matters:

- Paid: a completed checkout, a succeeded payment, or any refund or dispute (they imply a
  charge) makes a payment that awaits its money (pending, waiting for the customer's
  authentication, or held for a capture) paid.
- Held: a manually captured payment is `authorized` while the processor holds the amount;
  a capture takes all of it or less (the payment's `amount` becomes what was captured, the
  hold stays in `amount_authorized`), a cancel or the hold's expiry cancels it.
- Refunded: `amount_refunded` only grows (the processor's cumulative amount, or our own
  succeeded refunds), so a late or repeated event cannot count twice.
- Disputed: open or lost disputes make the payment disputed; a won dispute gives it back
  its refund-derived status (domain/disputes.py).
- Confirmed: the amount and currency a processor confirms (an event, a capture, a sync)
  must be the payment's; otherwise the mismatch is recorded and alerted, never paid
  (`amount_confirmed`).
- An event about a payment not known yet fails, and the worker retries it with backoff.

Calls to processors happen outside database transactions (capture is the one exception,
see `capture_locked`); the rows they depend on are written first, so a crash or timeout
between the two is resumed, not duplicated, by a retry (the processor call carries an
idempotency key derived from our own ids).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..ids import utcnow
from ..limits import https_url
from ..models import (
    CatalogCoupon,
    Customer,
    Dispute,
    Payment,
    PaymentEvent,
    PaymentMethod,
    Refund,
)
from ..processors.base import (
    CaptureMethod,
    CaptureRequest,
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    Coupon,
    PaymentSnapshot,
    Processor,
    ProcessorError,
    RefundRequest,
    SavedMethods,
    WebhookEvent,
)
from .catalog import active_price, promotion
from .customers import linked_customer, processor_customer
from .errors import Conflict, DomainError, IllegalTransition, NotFound, Unprocessable
from .facts import CheckoutApproved, PaymentObserved, PaymentRef, RefundObserved

log = logging.getLogger(__name__)

#: Allowed status changes. Anything else is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"requires_action", "authorized", "succeeded", "failed", "canceled"}),
    "requires_action": frozenset({"authorized", "succeeded", "failed", "canceled"}),
    "authorized": frozenset({"succeeded", "canceled"}),
    "succeeded": frozenset({"partially_refunded", "refunded", "disputed"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded", "disputed"}),
    "disputed": frozenset({"succeeded", "partially_refunded", "refunded"}),
    "failed": frozenset(),
    "canceled": frozenset(),
    "refunded": frozenset(),
}
REFUNDABLE = frozenset({"succeeded", "partially_refunded"})
#: A payment whose money has not moved yet.
AWAITING = frozenset({"pending", "requires_action", "authorized"})
#: A payment whose money moved; one whose money never did (nor will).
PAID_STATES = frozenset({"succeeded", "partially_refunded", "refunded", "disputed"})
UNPAID = AWAITING | {"failed", "canceled"}
#: Processor failures after which the call may have happened, or may succeed if retried.
RETRYABLE = frozenset({"unavailable", "rate_limited", "error"})
#: Refunds that count against what is left to refund.
COUNTED_REFUNDS = ("pending", "succeeded")
#: A processor confirmed another amount or currency than the payment's (its failure code,
#: its history entry's type and the log's alert).
AMOUNT_MISMATCH = "amount_mismatch"
#: `Payment.metadata_` key: the checkout asked to keep its method ("asked"; "kept" once the
#: processor was asked to, where it keeps it only after the payment: `payment_methods`).
KEEP_METHOD = "keep_payment_method"
#: Dispute statuses that keep a payment disputed.
OPEN_DISPUTES = ("needs_response", "under_review", "lost")
#: `Session.info` key: the payments the current transaction has locked, by id (held here:
#: the session's identity map alone keeps only weak references).
LOCKED = "locked_payments"


class PaymentNotKnownYet(DomainError):
    """Retried later: the event that introduces the payment has not been applied yet."""


class AmountNotExplainedYet(DomainError):
    """Retried later: a payment open to a promotion code or the processor's tax was paid
    for another amount, and the event that says what the code took off and the tax added
    (Stripe's checkout session) has not been applied yet."""


@dataclass(frozen=True)
class Cause:
    """What changes a payment: an API call, or a processor event (its type, id and time)."""

    type: str
    processor_event_id: str | None = None
    at: datetime | None = None
    #: The amount the change is about (a refund's), for the payment's history.
    amount: int | None = None

    @classmethod
    def of(cls, event: WebhookEvent) -> Cause:
        return cls(event.type, event.event_id, event.created_at)


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


def derived_status(session: Session, payment: Payment, paid: bool, disputes_changed: bool) -> str:
    """The status the payment's facts imply."""
    if payment.status in UNPAID and not paid:
        return payment.status
    # An open dispute has made the payment disputed, or one changes now: only then look.
    open_dispute = (payment.status == "disputed" or disputes_changed) and session.scalar(
        select(func.count()).where(
            Dispute.payment_id == payment.id, Dispute.status.in_(OPEN_DISPUTES)
        )
    )
    if open_dispute:
        return "disputed"
    if payment.amount_refunded >= payment.amount:
        return "refunded"
    return "partially_refunded" if payment.amount_refunded > 0 else "succeeded"


def converge(
    session: Session,
    payment: Payment,
    cause: Cause,
    *,
    paid: bool = True,
    disputes_changed: bool = False,
) -> None:
    """Move the payment to the status its facts imply, through allowed transitions."""
    goal = derived_status(session, payment, paid, disputes_changed)
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
        transition(
            session,
            payment,
            step,
            event_type=cause.type,
            amount=cause.amount,
            processor_event_id=cause.processor_event_id,
        )
    if cause.at is not None:
        payment.processor_updated_at = cause.at


def lock_payments(session: Session, payment_ids: Iterable[str | None]) -> None:
    """Lock the payments a batch of events names by our id, in one statement and in id
    order (two workers never wait on each other in a cycle); `find_payment` then takes
    them from the session without another round trip."""
    ids = sorted({i for i in payment_ids if i})
    if ids:
        query = select(Payment).where(Payment.id.in_(ids)).order_by(Payment.id)
        found = session.scalars(query.with_for_update()).all()
        session.info.setdefault(LOCKED, {}).update((p.id, p) for p in found)


def find_payment(session: Session, processor: str, ref: PaymentRef) -> Payment | None:
    """The payment an event names, locked: by our id, else the processor's payment, else
    its checkout. The one lookup every processor's events go through."""
    locked: Payment | None = session.info.get(LOCKED, {}).get(ref.payment_id)
    if locked is not None and locked.processor == processor:
        return locked  # locked by lock_payments: no round trip
    lookups = [
        (Payment.id, ref.payment_id),
        (Payment.processor_payment_id, ref.processor_payment_id),
        (Payment.processor_ref, ref.processor_ref),
    ]
    for attempt in range(2):
        if attempt:
            session.flush()  # an earlier event of this batch may have just linked it
        for column, value in lookups:
            if value:
                found = session.scalars(
                    select(Payment)
                    .where(column == value, Payment.processor == processor)
                    .with_for_update()
                ).first()
                if found is not None:
                    return found
    return None


def amount_confirmed(
    session: Session,
    payment: Payment,
    amount: int | None,
    currency: str | None,
    cause: Cause,
    discount: int | None = None,
    tax: int | None = None,
) -> bool:
    """Whether what the processor confirms (None: says nothing of it) is the payment's own
    amount and currency. If not, the mismatch is recorded in the payment's history and on
    the payment (`failure_code` "amount_mismatch"), logged as an alert, and the caller
    applies nothing more: a payment is never counted as paid for an amount it was not.

    A payment open to a promotion code (`amount_discount` not None) or to the processor's
    tax (`amount_tax` not None) may be paid for another amount: its listed amount less
    exactly the `discount` plus exactly the `tax` the processor reports, which the payment
    then records. Paid for another amount that the processor has not explained yet, the
    event is retried (`AmountNotExplainedYet`) until the one that explains it is applied."""
    same_currency = currency is None or currency.lower() == payment.currency
    adjusted = payment.amount_discount is not None or payment.amount_tax is not None
    if adjusted and amount is not None and same_currency:
        listed = payment.amount + (payment.amount_discount or 0) - (payment.amount_tax or 0)
        off = (discount or 0) if payment.amount_discount is not None else 0
        added = (tax or 0) if payment.amount_tax is not None else 0
        explained = discount is not None or tax is not None
        if explained and 0 <= off < listed and added >= 0 and amount == listed - off + added:
            payment.amount = amount
            if payment.amount_discount is not None:
                payment.amount_discount = off
            if payment.amount_tax is not None:
                payment.amount_tax = added
            return True
        if not explained and amount != payment.amount and payment.status in AWAITING:
            raise AmountNotExplainedYet(
                f"paid {amount} for {payment.amount}: waiting for what the processor added "
                "or took off"
            )
    same_amount = amount is None or amount == payment.amount
    if same_amount and same_currency:
        return True
    confirmed = f"{amount if amount is not None else '?'} {(currency or '?').lower()}"
    message = (
        f"the processor confirmed {confirmed}; the payment is {payment.amount} {payment.currency}"
    )
    payment.failure_code = AMOUNT_MISMATCH
    payment.failure_message = message
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            type=AMOUNT_MISMATCH,
            status_from=payment.status,
            status_to=payment.status,
            amount=amount,
            processor_event_id=cause.processor_event_id,
            message=message,
        )
    )
    log.error(
        "amount mismatch: the processor confirmed another amount; not counted as paid",
        extra={
            "alert": AMOUNT_MISMATCH,
            "payment_id": payment.id,
            "processor": payment.processor,
            "event": cause.processor_event_id or cause.type,
            "confirmed": confirmed,
            "expected": f"{payment.amount} {payment.currency}",
        },
    )
    return False


def amount_mismatches(connection: Connection) -> int:
    """How many confirmations of another amount the payments' history records (the
    metrics' `payments_amount_mismatches_total`)."""
    query = select(func.count()).where(PaymentEvent.type == AMOUNT_MISMATCH)
    count: int = connection.execute(query).scalar_one()
    return count


def partial_capture(payment: Payment, amount: int | None, currency: str | None) -> None:
    """A held payment confirmed paid for less than it held was captured in part (as the
    merchant asked): from now on the payment is for what was captured."""
    if (
        payment.capture_method == "manual"
        and payment.status in AWAITING
        and amount is not None
        and 0 < amount < payment.amount
        and (currency is None or currency.lower() == payment.currency)
    ):
        payment.amount_authorized = payment.amount_authorized or payment.amount
        payment.amount = amount


def wait_or_hold(
    session: Session, payment: Payment, to: str, cause: Cause, action_url: str | None
) -> None:
    """The customer must authenticate (`requires_action`), or the processor holds the
    amount (`authorized`): only a payment still waiting for its money moves."""
    if payment.status not in AWAITING:
        return
    if to == "authorized":
        payment.amount_authorized = payment.amount
    if to == "requires_action" and action_url:
        payment.checkout_url = action_url
    if to in TRANSITIONS[payment.status]:
        transition(
            session,
            payment,
            to,
            event_type=cause.type,
            processor_event_id=cause.processor_event_id,
        )


def require_payment(session: Session, processor: str, ref: PaymentRef, what: str) -> Payment:
    payment = find_payment(session, processor, ref)
    if payment is None:
        raise PaymentNotKnownYet(f"no payment for {what} yet")
    return payment


def observe(session: Session, event: WebhookEvent, fact: PaymentObserved) -> Payment | None:
    """What a processor says of a payment, applied through the state machine; the payment
    (None: not this service's)."""
    payment = find_payment(session, event.processor, fact.ref)
    if payment is None:
        if fact.unknown == "ignore":
            log.info("payment not made by this service", extra={"event": event.event_id})
            return None
        raise PaymentNotKnownYet(f"no payment for {event.type} {event.event_id} yet")
    cause = Cause.of(event)
    if (fact.held or fact.needs_action) and payment.status not in AWAITING:
        return payment  # older than what is known: the payment has moved on
    if fact.paid:
        partial_capture(payment, fact.amount, fact.currency)
    if not amount_confirmed(
        session, payment, fact.amount, fact.currency, cause, fact.amount_discount, fact.amount_tax
    ):
        return payment  # recorded and alerted; nothing else this event says is applied
    if fact.processor_payment_id and (
        payment.processor_payment_id is None or (fact.paid and payment.status == "authorized")
    ):
        # A capture of a hold may be an object of its own (PayPal's): refunds go against it.
        payment.processor_payment_id = fact.processor_payment_id
    if fact.livemode is not None:
        payment.livemode = fact.livemode
    payment.receipt_url = https_url(fact.receipt_url) or payment.receipt_url
    if fact.failure_code is not None:
        payment.failure_code = fact.failure_code
    if fact.failure_message is not None:
        payment.failure_message = fact.failure_message
    if fact.ended is not None:
        if payment.status in AWAITING and fact.ended in TRANSITIONS[payment.status]:
            transition(
                session,
                payment,
                fact.ended,
                event_type=cause.type,
                processor_event_id=cause.processor_event_id,
            )
        return payment
    if fact.held or fact.needs_action:
        to = "authorized" if fact.held else "requires_action"
        wait_or_hold(session, payment, to, cause, fact.action_url)
        return payment
    refunded = payment.amount if fact.refunded_in_full else fact.refunded
    if refunded is not None:
        payment.amount_refunded = max(payment.amount_refunded, min(refunded, payment.amount))
    if fact.paid is not None:
        converge(session, payment, cause, paid=fact.paid)
    return payment


def capture_locked(session: Session, payment: Payment, adapter: Processor, event_type: str) -> None:
    """Capture an approved payment under its row lock (taken by the caller), and apply the
    processor's answer.

    The buyer's return and the processor's approval event may both ask at the same time:
    the second caller waits for the lock, then finds the payment captured and calls nobody.
    (On SQLite, which has no row locks, the processor's idempotency key and its "already
    captured" answer keep it to one capture.)
    """
    if payment.status != "pending" or payment.processor_ref is None:
        return
    snapshot = adapter.capture(payment.processor_ref)
    apply_payment_snapshot(session, payment, snapshot, event_type)


def approve(
    session: Session,
    event: WebhookEvent,
    fact: CheckoutApproved,
    processors: Mapping[str, Processor],
) -> None:
    """The buyer approved at the processor: capture now, once (the return may have)."""
    payment = require_payment(session, event.processor, fact.ref, f"{event.type} {event.event_id}")
    if payment.status != "pending":
        return  # captured already (the buyer's return came first), or ended
    adapter = processors.get(event.processor)
    if adapter is None:
        raise PaymentNotKnownYet(f"no {event.processor} adapter to capture with")
    try:
        capture_locked(session, payment, adapter, event.type)
    except ProcessorError as exc:
        if exc.kind != "declined":
            raise  # retried by the worker
        # The buyer may approve again with another funding source, at the same order.
        payment.failure_code = exc.decline_code
        payment.failure_message = exc.message


def settle_refund(
    session: Session,
    refund: Refund,
    status: str,
    processor_refund_id: str | None,
    cause: Cause,
) -> None:
    """A pending refund of ours is final: count what succeeded, once, whoever says so first
    (the processor's answer or its event), then converge the payment."""
    if refund.status != "pending":
        return
    refund.status = status
    refund.processor_refund_id = refund.processor_refund_id or processor_refund_id
    session.flush()
    payment = session.get_one(Payment, refund.payment_id, with_for_update=True)
    succeeded = session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status == "succeeded"
        )
    )
    payment.amount_refunded = max(payment.amount_refunded, int(succeeded or 0))
    converge(session, payment, cause)


def refund_observed(session: Session, event: WebhookEvent, fact: RefundObserved) -> None:
    """A refund of ours became final at the processor."""
    if fact.status is None:
        return
    matches = [Refund.processor_refund_id == fact.processor_refund_id]
    if fact.refund_id:
        matches.append(Refund.id == fact.refund_id)
    refund = session.scalars(
        select(Refund).where(or_(*matches), Refund.processor == event.processor)
    ).first()
    if refund is None:
        return  # made outside this service: the payment's cumulative amount carries it
    settle_refund(session, refund, fact.status, fact.processor_refund_id, Cause.of(event))


def not_configured(name: str, available: Iterable[str]) -> Unprocessable:
    """The error for a processor this service does not have, or has not configured."""
    return Unprocessable(
        f"processor {name!r} is not configured in this service "
        f"(available: {', '.join(sorted(available)) or 'none'})"
    )


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
    #: The customer the payment is for (required to keep its payment method).
    customer_id: str | None = None
    save_payment_method: bool = False
    capture: CaptureMethod = "automatic"
    #: A catalog coupon's promotion code, applied at the processor.
    promotion_code: str | None = None


@dataclass(frozen=True)
class NewCharge:
    """A charge of a customer's saved method, without the customer (off-session)."""

    payment_id: str
    customer_id: str
    amount: int
    currency: str
    description: str
    #: Where the customer comes back to after authenticating, if their bank asks.
    return_url: str
    #: Ours (`pm_...`); None: the customer's default.
    payment_method_id: str | None = None
    capture: CaptureMethod = "automatic"
    reference: str | None = None


@dataclass(frozen=True)
class Started:
    payment: Payment
    #: For embedded checkout: what the processor's script needs (never stored).
    client_secret: str | None = None


#: How long a checkout not yet paid holds a redemption of its promotion code: longer, and
#: checkouts left unpaid could use a limited coupon up without anyone paying.
REDEMPTION_HOLD = timedelta(hours=1)


def redeem(session: Session, coupon: Coupon, amount: int) -> int:
    """What a code this service applies itself takes off `amount`, while the coupon may
    still be redeemed: its payments at any processor count once paid (or held, or waiting
    for the buyer's authentication), and while pending for `REDEMPTION_HOLD`; one
    transaction at a time (the coupon's rows locked; SQLite writes one at a time)."""
    if coupon.max_redemptions is not None:
        session.scalars(
            select(CatalogCoupon.id).where(CatalogCoupon.key == coupon.key).with_for_update()
        ).all()
        held = (Payment.status == "pending") & (Payment.created_at > utcnow() - REDEMPTION_HOLD)
        used = session.scalar(
            select(func.count())
            .select_from(Payment)
            .where(
                Payment.promotion_code == coupon.code,
                Payment.status.not_in(("pending", "failed", "canceled")) | held,
            )
        )
        if (used or 0) >= coupon.max_redemptions:
            raise Conflict(f"the promotion code {coupon.code} has been used up")
    return coupon.discount_on(amount)


def created(session: Session, payment: Payment) -> Payment:
    """A new payment, pending, with the first entry of its history."""
    session.add(payment)
    session.add(PaymentEvent(payment_id=payment.id, type="created", status_to="pending"))
    return payment


def outcome_unknown(refund: Refund) -> bool:
    """A refund whose processor call had no answer: the processor may have made it."""
    return refund.status == "pending" and refund.processor_refund_id is None


def refund_request(refund: Refund, payment: Payment) -> RefundRequest:
    if payment.processor_payment_id is None:
        raise Conflict("the processor has not confirmed this payment yet")
    return RefundRequest(
        refund_id=refund.id,
        processor_payment_id=payment.processor_payment_id,
        amount=refund.amount,
        currency=refund.currency,
        reason=refund.reason,
    )


class Payments:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        processors: Mapping[str, Processor],
        coupons: Mapping[str, Coupon] | None = None,
        processor_tax: bool = False,
    ) -> None:
        self.sessions = sessions
        self.processors = processors
        #: catalog.yml's coupons, by promotion code.
        self.coupons = coupons or {}
        #: TAX_MODE=processor: checkouts' tax is the processor's to compute and add.
        self.processor_tax = processor_tax

    def processor(self, name: str) -> Processor:
        found = self.processors.get(name)
        if found is None:
            raise not_configured(name, self.processors)
        return found

    def get(self, payment_id: str) -> Payment:
        with self.sessions() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise NotFound(f"no payment {payment_id}")
            return payment

    def saved_methods(self, name: str) -> SavedMethods:
        """The processor's side that keeps payment methods and holds amounts."""
        adapter = self.processor(name)
        if not isinstance(adapter, SavedMethods):
            raise Unprocessable(
                f"this version keeps no payment methods and holds no amounts at {name}"
            )
        return adapter

    def create_checkout(self, new: NewCheckout) -> Started:
        """Create the payment (or resume it) and its checkout at the processor."""
        adapter = self.processor(new.processor)
        if new.save_payment_method and new.customer_id is None:
            raise Unprocessable("save_payment_method needs the customer_id to keep it for")
        if new.save_payment_method or new.capture == "manual":
            keeps = self.saved_methods(new.processor)  # refused here, before anything is stored
            if new.capture == "manual" and not keeps.manual_checkout:
                raise Unprocessable(
                    f"a {new.processor} checkout page captures at once: hold an amount with an "
                    "off-session charge (POST /api/customers/{id}/charges) instead"
                )
        if new.promotion_code is not None and new.capture == "manual":
            raise Unprocessable("a promotion code applies to payments captured at once")
        if self.processor_tax and not adapter.computes_tax:
            raise Unprocessable(
                f"{new.processor} computes no tax, and TAX_MODE is processor: pay elsewhere"
            )
        if self.processor_tax and new.capture == "manual":
            raise Unprocessable("with TAX_MODE=processor, payments are captured at once")
        # The buyer may enter a code on the processor's page where the catalog has coupons
        # and the processor keeps them.
        allow_codes = bool(
            not adapter.local_discounts
            and self.coupons
            and new.promotion_code is None
            and new.capture == "automatic"
        )
        with self.sessions.begin() as session:
            promoted = promotion(
                session,
                self.coupons,
                adapter.name,
                new.promotion_code,
                new.amount,
                new.currency,
            )
            payment = session.get(Payment, new.payment_id)
            customer = None
            if new.customer_id is not None:
                customer = session.get(Customer, new.customer_id)
                if customer is None:
                    raise NotFound(f"no customer {new.customer_id}")
            if payment is None:
                discount = 0
                if promoted is not None and adapter.local_discounts:
                    discount = redeem(session, promoted[1], new.amount)
                payment = created(
                    session,
                    Payment(
                        id=new.payment_id,
                        processor=new.processor,
                        amount=new.amount - discount,
                        currency=new.currency,
                        description=new.description,
                        reference=new.reference,
                        product_key=new.product_key,
                        customer_id=new.customer_id,
                        capture_method=new.capture,
                        metadata_={KEEP_METHOD: "asked"} if new.save_payment_method else {},
                        promotion_code=new.promotion_code and new.promotion_code.upper(),
                        amount_discount=discount if promoted or allow_codes else None,
                        amount_tax=0 if self.processor_tax else None,
                    ),
                )
            elif payment.processor_ref is not None and new.mode == "hosted":
                return Started(payment)
            # Taken off here (`local_discounts`), at the first attempt: what the order says.
            discount = (payment.amount_discount or 0) if adapter.local_discounts else 0
            price_ref = None
            if new.product_key is not None:
                price_ref = active_price(
                    session, new.processor, new.product_key, new.amount, new.currency
                )
        customer_ref = None
        if customer is not None and isinstance(adapter, SavedMethods):
            customer_ref = processor_customer(self.sessions, adapter, customer)
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
                processor_customer_id=customer_ref,
                save_payment_method=new.save_payment_method,
                capture=new.capture,
                promotion_ref=promoted[0] if promoted else None,
                allow_promotion_codes=allow_codes,
                discount=discount,
                automatic_tax=self.processor_tax,
            )
        )
        with self.sessions.begin() as session:
            payment = session.get_one(Payment, new.payment_id)
            payment.processor_ref = checkout.processor_ref
            payment.checkout_url = checkout.url
            if checkout.amount_tax is not None and checkout.amount is not None:
                # The processor computed the tax as it made the order: the payment is for
                # what the buyer will pay.
                payment.amount = checkout.amount
                payment.amount_tax = checkout.amount_tax
        return Started(payment, checkout.client_secret)

    def charge(self, new: NewCharge) -> Payment:
        """Charge a customer's saved method off-session, once per payment id.

        The payment is written before the call and given the processor's answer after it.
        A decline fails it (and raises: 402); a bank that asks for authentication leaves
        it `requires_action` with the URL where the customer completes it; an unknown
        outcome leaves it `pending`, and asking again (the same id) asks the processor
        again under the same idempotency key instead of charging twice."""
        with self.sessions.begin() as session:
            payment = session.get(Payment, new.payment_id)
            if payment is None:
                method = self._method_to_charge(session, new)
                payment = created(
                    session,
                    Payment(
                        id=new.payment_id,
                        processor=method.processor,
                        amount=new.amount,
                        currency=new.currency,
                        description=new.description,
                        reference=new.reference,
                        customer_id=new.customer_id,
                        capture_method=new.capture,
                        payment_method_id=method.id,
                    ),
                )
            elif payment.processor_ref is not None or payment.status != "pending":
                return payment  # answered already
            else:
                found = session.get(PaymentMethod, payment.payment_method_id or "")
                if found is None:
                    raise Conflict("the payment method was removed before the charge was made")
                method = found
            customer_ref = linked_customer(session, new.customer_id, method.processor)
            if customer_ref is None:
                raise Conflict(f"the customer has no account at {method.processor}")
            request = ChargeRequest(
                payment_id=new.payment_id,
                processor_customer_id=customer_ref,
                processor_payment_method_id=method.processor_payment_method_id,
                amount=new.amount,
                currency=new.currency,
                description=new.description,
                capture=new.capture,
                return_url=new.return_url,
            )
        adapter = self.saved_methods(method.processor)
        try:
            snapshot = adapter.charge_saved(request)
        except ProcessorError as exc:
            if exc.kind not in RETRYABLE:
                with self.sessions.begin() as session:
                    payment = session.get_one(Payment, new.payment_id, with_for_update=True)
                    payment.failure_code = exc.decline_code or exc.kind
                    payment.failure_message = exc.message
                    if payment.status in AWAITING:
                        transition(session, payment, "failed", event_type="charge.failed")
            raise  # else the outcome is unknown: it stays pending, to ask again
        with self.sessions.begin() as session:
            payment = session.get_one(Payment, new.payment_id, with_for_update=True)
            payment.processor_ref = payment.processor_ref or snapshot.processor_ref
            apply_payment_snapshot(session, payment, snapshot, "charge")
        return payment

    @staticmethod
    def _method_to_charge(session: Session, new: NewCharge) -> PaymentMethod:
        if session.get(Customer, new.customer_id) is None:
            raise NotFound(f"no customer {new.customer_id}")
        query = select(PaymentMethod).where(PaymentMethod.customer_id == new.customer_id)
        if new.payment_method_id is not None:
            query = query.where(PaymentMethod.id == new.payment_method_id)
        else:
            query = query.where(PaymentMethod.is_default.is_(True))
        method = session.scalars(query).first()
        if method is None and new.payment_method_id is not None:
            raise NotFound(f"no payment method {new.payment_method_id} for this customer")
        if method is None:
            raise Conflict("the customer has no default payment method to charge")
        return method

    def refund(
        self, payment_id: str, refund_id: str, amount: int | None, reason: str | None
    ) -> Refund:
        """Refund all or part of what is left; refuse more than that before any call.

        A refund whose call had an unknown outcome (a timeout, a dropped connection, an
        outage) stays `pending` and counts against the remainder; asking again for it
        (the same id: the client's retry, or `reconcile`) asks the processor again, with
        the same idempotency key, and learns the outcome instead of refunding twice."""
        with self.sessions.begin() as session:
            existing = session.get(Refund, refund_id)
            if existing is not None and not outcome_unknown(existing):
                return existing
            if existing is not None:
                payment = session.get_one(Payment, existing.payment_id)
                request = refund_request(existing, payment)
            else:
                payment = self._refundable(session, payment_id)
                refund = self._new_refund(session, payment, refund_id, amount, reason)
                request = refund_request(refund, payment)
        adapter = self.processor(payment.processor)
        try:
            result = adapter.refund(request)
        except ProcessorError as exc:
            if exc.kind not in RETRYABLE:
                with self.sessions.begin() as session:
                    refund = session.get_one(Refund, refund_id)
                    refund.status = "failed"
                    refund.failure_reason = exc.message
            raise  # else the outcome is unknown: the refund stays pending, to ask again
        with self.sessions.begin() as session:
            refund = session.get_one(Refund, refund_id)
            refund.processor_refund_id = result.processor_refund_id
            if result.status == "succeeded":
                cause = Cause("refund.succeeded", amount=refund.amount)
                settle_refund(session, refund, "succeeded", result.processor_refund_id, cause)
            else:
                refund.status = result.status
        return refund

    @staticmethod
    def _refundable(session: Session, payment_id: str) -> Payment:
        payment = session.scalars(
            select(Payment).where(Payment.id == payment_id).with_for_update()
        ).one_or_none()
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        if payment.status not in REFUNDABLE:
            raise Conflict(f"a {payment.status} payment cannot be refunded")
        if payment.processor_payment_id is None:
            raise Conflict("the processor has not confirmed this payment yet")
        return payment

    @staticmethod
    def _new_refund(
        session: Session, payment: Payment, refund_id: str, amount: int | None, reason: str | None
    ) -> Refund:
        counted = session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.payment_id == payment.id, Refund.status.in_(COUNTED_REFUNDS)
            )
        )
        # Refunds made outside (the dashboard) are known only from the processor's total.
        refundable = payment.amount - max(int(counted or 0), payment.amount_refunded)
        amount = refundable if amount is None else amount
        if amount <= 0 or amount > refundable:
            raise Unprocessable(
                f"refund amount {amount} exceeds the refundable remainder {refundable} "
                f"{payment.currency}"
            )
        refund = Refund(
            id=refund_id,
            payment_id=payment.id,
            processor=payment.processor,
            amount=amount,
            currency=payment.currency,
            reason=reason,
        )
        session.add(refund)
        return refund

    def settle_unknown_refunds(self, older_than: timedelta) -> int:
        """Ask the processors again about refunds whose call had an unknown outcome and
        that no retry has settled (`reconcile` runs this); how many are settled now."""
        before = utcnow() - older_than
        with self.sessions() as session:
            unknown = session.scalars(
                select(Refund).where(
                    Refund.status == "pending",
                    Refund.processor_refund_id.is_(None),
                    Refund.created_at < before,
                )
            ).all()
        settled = 0
        for refund in unknown:
            try:
                asked = self.refund(refund.payment_id, refund.id, None, None)
            except ProcessorError as exc:
                log.warning(
                    "refund outcome still unknown: %s", exc.message, extra={"refund_id": refund.id}
                )
                continue
            settled += not outcome_unknown(asked)
        return settled

    def sync_waiting(self) -> int:
        """Bring every held payment, and every one waiting for the customer's
        authentication, up to date from its processor (`reconcile` runs this): a hold that
        expired, or was released at the processor, without an event this service received
        is canceled. How many changed."""
        with self.sessions() as session:
            waiting = session.execute(
                select(Payment.id, Payment.status).where(
                    Payment.status.in_(("authorized", "requires_action"))
                )
            ).all()
        changed = 0
        for payment_id, status in waiting:
            try:
                synced = self.apply_snapshot(payment_id)
            except ProcessorError as exc:
                log.warning(
                    "held payment not synced: %s", exc.message, extra={"payment_id": payment_id}
                )
                continue
            changed += synced.status != status
        return changed

    def apply_snapshot(self, payment_id: str) -> Payment:
        """Bring a pending payment up to date from the processor (after a redirect or event)."""
        payment = self.get(payment_id)
        if payment.processor_ref is None:
            return payment
        snapshot = self.processor(payment.processor).retrieve_payment(payment.processor_ref)
        with self.sessions.begin() as session:
            payment = session.get_one(Payment, payment_id, with_for_update=True)
            apply_payment_snapshot(session, payment, snapshot, "processor.sync")
        return payment

    def capture(self, payment_id: str, amount: int | None = None, operation: str = "") -> Payment:
        """Capture a payment, once, whoever asks first (`capture_locked`): what a held
        payment holds (all of it, or `amount` of it: the rest is released), or an approved
        one (PayPal's buyer returned). Another payment is brought up to date."""
        with self.sessions.begin() as session:
            payment = session.scalars(
                select(Payment).where(Payment.id == payment_id).with_for_update()
            ).one_or_none()
            if payment is None:
                raise NotFound(f"no payment {payment_id}")
            if payment.status == "authorized":
                self._capture_held(session, payment, amount, operation)
            elif amount is not None and payment.status not in PAID_STATES:
                raise Conflict(f"a {payment.status} payment holds nothing to capture")
            elif amount is not None and amount != payment.amount:
                raise Conflict(f"the payment was captured already, for {payment.amount}")
            elif payment.status == "pending" and payment.processor_ref is not None:
                adapter = self.processor(payment.processor)
                capture_locked(session, payment, adapter, "processor.capture")
        return payment

    def _capture_held(
        self, session: Session, payment: Payment, amount: int | None, operation: str
    ) -> None:
        """Capture a held amount under the payment's lock (a second capture waits, then
        finds it captured); more than was held is refused before any call."""
        amount = payment.amount if amount is None else amount
        if amount > payment.amount:
            raise Unprocessable(
                f"cannot capture {amount}: the payment holds {payment.amount} {payment.currency}"
            )
        if payment.processor_payment_id is None:
            raise Conflict("the processor has not confirmed this payment yet")
        adapter = self.saved_methods(payment.processor)
        if amount < payment.amount and not adapter.partial_capture:
            raise Unprocessable(
                f"{payment.processor} completes what it holds: capture all of it, or cancel"
            )
        snapshot = adapter.capture_authorized(
            CaptureRequest(
                payment.id,
                payment.processor_payment_id,
                amount,
                payment.currency,
                operation or "all",
            )
        )
        if snapshot.status == "succeeded" and snapshot.processor_payment_id:
            # The capture may be an object of its own (PayPal's): refunds go against it.
            payment.processor_payment_id = snapshot.processor_payment_id
        apply_payment_snapshot(session, payment, snapshot, "processor.capture")

    def cancel(self, payment_id: str) -> Payment:
        """Release a held payment (or one waiting for the customer's authentication)
        without capturing anything; a canceled one is answered as it is."""
        with self.sessions.begin() as session:
            payment = session.scalars(
                select(Payment).where(Payment.id == payment_id).with_for_update()
            ).one_or_none()
            if payment is None:
                raise NotFound(f"no payment {payment_id}")
            if payment.status == "canceled":
                return payment
            if payment.status not in ("authorized", "requires_action"):
                why = "refund it instead" if payment.status in REFUNDABLE else "nothing is held"
                raise Conflict(f"a {payment.status} payment cannot be canceled: {why}")
            reference = payment.processor_payment_id or payment.processor_ref
            if reference is None:
                raise Conflict("the processor has not confirmed this payment yet")
            adapter = self.saved_methods(payment.processor)
            snapshot = adapter.cancel_authorized(payment.id, reference)
            apply_payment_snapshot(session, payment, snapshot, "processor.cancel")
        return payment


def apply_payment_snapshot(
    session: Session, payment: Payment, snapshot: PaymentSnapshot, event_type: str
) -> None:
    """The processor's view of a payment, applied to a locked row (a pending one only moves)."""
    cause = Cause(event_type)
    if snapshot.status in ("authorized", "requires_action") and payment.status not in AWAITING:
        return  # the payment has moved on since
    if snapshot.status == "succeeded":
        partial_capture(payment, snapshot.amount, snapshot.currency)
    said = (snapshot.amount_discount, snapshot.amount_tax)
    if not amount_confirmed(session, payment, snapshot.amount, snapshot.currency, cause, *said):
        return
    if payment.processor_payment_id is None:
        payment.processor_payment_id = snapshot.processor_payment_id
    payment.livemode = snapshot.livemode
    if snapshot.failure_code:
        payment.failure_code = snapshot.failure_code
        payment.failure_message = snapshot.failure_message
    if snapshot.status in ("authorized", "requires_action"):
        wait_or_hold(session, payment, snapshot.status, cause, snapshot.action_url)
    elif payment.status in AWAITING and snapshot.status in TRANSITIONS[payment.status]:
        transition(session, payment, snapshot.status, event_type=event_type)
    payment.processor_updated_at = utcnow()

"""The neutral facts an adapter reads out of a processor event.

A processor's `events.py` knows its event shapes and nothing of the database; the domain
knows what each fact means and nothing of any processor. `domain/apply.py` applies each
kind through the same rules the API uses, whichever processor (or `reconcile`, or a
replay) it came from. Facts are plain data: they import nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DisputeStatus = Literal["needs_response", "under_review", "won", "lost", "closed"]
FinalRefundStatus = Literal["succeeded", "failed", "canceled"]


class Fact:
    """A fact read from a processor event (each kind is a frozen dataclass)."""


@dataclass(frozen=True)
class PaymentRef:
    """How an event names a payment: our id, the processor's payment, or its checkout."""

    payment_id: str | None = None
    processor_payment_id: str | None = None
    processor_ref: str | None = None


@dataclass(frozen=True)
class PaymentFact(Fact):
    """A fact about one payment, and how the event names it."""

    ref: PaymentRef


@dataclass(frozen=True)
class PaymentObserved(PaymentFact):
    """What the processor says of a payment now.

    - `paid`: True, the processor holds the money; False, not (yet); None, the event
      says nothing of it (a failed attempt the buyer may retry).
    - `ended`: a pending payment ends unpaid (the checkout expired, a delayed method failed).
    - `refunded`: the processor's cumulative refunded amount, which only ever grows, so a
      late or repeated event cannot count twice; `refunded_in_full`: all of it (reversed).
    - `unknown`: a payment not known here is retried until the event that introduces it
      arrives ("retry"), or is not this service's ("ignore").
    - `amount`, `currency`: what the processor says the payment is for, where the event
      carries it; the domain checks them against the payment's own. For a paid, manually
      captured payment: what was captured, which may be less than what was held.
    - `held`: the processor holds the amount for a later capture (`authorized`).
    - `needs_action`: the customer must authenticate first, at `action_url`.
    - `receipt_url`: the processor's receipt page for the buyer, where it has one.
    - `amount_discount`: what a promotion code took off, and `amount_tax` the tax the
      processor added, where the event says (`amount` is then what is paid with both).
    """

    paid: bool | None = None
    ended: Literal["failed", "canceled"] | None = None
    processor_payment_id: str | None = None
    livemode: bool | None = None
    refunded: int | None = None
    refunded_in_full: bool = False
    failure_code: str | None = None
    failure_message: str | None = None
    unknown: Literal["retry", "ignore"] = "retry"
    amount: int | None = None
    currency: str | None = None
    held: bool = False
    needs_action: bool = False
    action_url: str | None = None
    receipt_url: str | None = None
    amount_discount: int | None = None
    amount_tax: int | None = None


@dataclass(frozen=True)
class CheckoutApproved(PaymentFact):
    """The buyer approved the payment at the processor (PayPal): capture it, once."""


@dataclass(frozen=True)
class RefundObserved(Fact):
    """A refund's outcome (None: not final yet). Only refunds made here are matched; one
    made elsewhere reaches the payment through its cumulative refunded amount."""

    processor_refund_id: str | None
    refund_id: str | None = None
    status: FinalRefundStatus | None = None


@dataclass(frozen=True)
class DisputeObserved(PaymentFact):
    """A dispute's state; `version` orders its events (the newest state wins)."""

    dispute_id: str
    status: DisputeStatus | None
    amount: int
    currency: str | None
    reason: str | None
    due_by: datetime | None
    version: datetime | None


@dataclass(frozen=True)
class PaymentMethodObserved(Fact):
    """A payment method a processor keeps for one of its customers, or no longer keeps
    (`removed`): its reference, and what may be shown of it (never a card number)."""

    processor_payment_method_id: str
    #: The processor's customer (None in a removal, where the processor no longer says).
    processor_customer_id: str | None
    removed: bool = False
    type: str | None = None
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None

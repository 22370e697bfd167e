"""Stripe's events: verified with the SDK's own check, then read into neutral facts.

- A completed (paid) Checkout Session, a succeeded PaymentIntent, or a session whose
  delayed payment succeeded: the payment is paid. An expired session, or one whose delayed
  payment failed, ends a pending payment; a failed PaymentIntent records the decline (the
  buyer may try again).
- `charge.refunded` carries the charge's cumulative `amount_refunded`; `refund.updated`
  makes a refund of ours final.
- `charge.dispute.*`: the dispute's state, versioned by the event's time.
- Objects name our payment by `client_reference_id` or `metadata.payment_id`, the
  PaymentIntent, or the Checkout Session.
- A PaymentIntent that holds its amount (`amount_capturable_updated`) makes the payment
  `authorized`; one that waits for the customer (`requires_action`) says where they
  authenticate; a canceled one (voided, or its hold expired) cancels a payment awaiting it.
- `payment_method.*` and `setup_intent.succeeded`: a saved method of a customer, as its
  reference and display data only (brand, last four, expiry).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from stripe import SignatureVerificationError, WebhookSignature

from ...domain.facts import (
    DisputeObserved,
    DisputeStatus,
    Fact,
    FinalRefundStatus,
    PaymentMethodObserved,
    PaymentObserved,
    PaymentRef,
    RefundObserved,
)
from ..base import Reader, WebhookEvent, WebhookVerificationError, shown_card

SIGNATURE_TOLERANCE_S = 300
DISPUTE_STATUSES: dict[str, DisputeStatus] = {
    "warning_needs_response": "needs_response",
    "needs_response": "needs_response",
    "warning_under_review": "under_review",
    "under_review": "under_review",
    "appeal_needs_response": "needs_response",
    "appeal_under_review": "under_review",
    "won": "won",
    "lost": "lost",
    "warning_closed": "closed",
    "prevented": "closed",
}
FINAL_REFUNDS: dict[str, FinalRefundStatus] = {
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
}


def verify(body: bytes, headers: Mapping[str, str], secrets: list[str]) -> None:
    """Stripe's signature over "t.body" with one of our signing secrets (several while one
    is rotated), at most 300 s old, and not from the future."""
    signature = headers.get("stripe-signature")
    if not signature:
        raise WebhookVerificationError("missing Stripe-Signature header")
    stamps = [p[2:] for p in signature.split(",") if p.startswith("t=")]
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise WebhookVerificationError("malformed Stripe-Signature header")
    # The SDK refuses old timestamps; a timestamp from the future is refused here.
    if int(stamps[0]) > time.time() + SIGNATURE_TOLERANCE_S:
        raise WebhookVerificationError("the signature's timestamp is in the future")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookVerificationError("the body is not a Stripe event") from None
    # The SDK's own check (HMAC-SHA256 over "t.body", constant-time, 300 s tolerance);
    # the body is then parsed once, into our type, not into the SDK's Event object.
    # (Imported by name: the SDK resolves `stripe.X` lazily, on every access.)
    for secret in secrets:
        try:
            WebhookSignature.verify_header(
                payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_S
            )
            return
        except SignatureVerificationError:
            continue
    raise WebhookVerificationError("no webhook secret matches the signature")


def parse(body: bytes) -> WebhookEvent:
    event = json.loads(body)
    return WebhookEvent(
        processor="stripe",
        event_id=str(event["id"]),
        type=str(event["type"]),
        livemode=bool(event.get("livemode", False)),
        created_at=datetime.fromtimestamp(int(event["created"]), UTC),
        data=event["data"]["object"],
    )


def stripe_time(value: Any) -> datetime | None:
    """A Stripe timestamp (Unix seconds, or null) as an aware datetime."""
    return datetime.fromtimestamp(int(value), UTC) if value else None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def intent_of(data: Mapping[str, Any]) -> str | None:
    """The PaymentIntent an object is, or refers to."""
    if data.get("object") == "payment_intent":
        return text(data.get("id"))
    return text(data.get("payment_intent"))


def payment_ref(data: Mapping[str, Any]) -> PaymentRef:
    """Our payment, as a Stripe object names it."""
    ours = data.get("client_reference_id") or (data.get("metadata") or {}).get("payment_id")
    return PaymentRef(
        payment_id=text(ours),
        processor_payment_id=intent_of(data),
        processor_ref=text(data.get("id")),
    )


#: Where each object says how much was paid: a session's total, an intent's received
#: amount (0 until it is), a charge's captured amount.
PAID_AMOUNT = {
    "checkout.session": "amount_total",
    "payment_intent": "amount_received",
    "charge": "amount_captured",
}


def confirmed(data: Mapping[str, Any]) -> dict[str, Any]:
    """The amount and currency a paid object confirms (nothing for an unpaid one)."""
    amount = data.get(PAID_AMOUNT.get(str(data.get("object")), ""))
    if not isinstance(amount, int) or isinstance(amount, bool):
        return {}
    said = {"amount": amount, "currency": text(data.get("currency"))}
    # A session says what a promotion code took off its total, and the tax it added.
    if data.get("object") == "checkout.session":
        totals = data.get("total_details") or {}
        for name in ("amount_discount", "amount_tax"):
            if isinstance(totals.get(name), int):
                said[name] = totals[name]
    return said


def observed(event: WebhookEvent, **said: Any) -> list[Fact]:
    """The payment an object names, its PaymentIntent and the mode, with what the event says
    (and, when it says the payment is paid, for how much)."""
    data = event.data
    amounts = confirmed(data) if said.get("paid") else {}
    fact = PaymentObserved(
        payment_ref(data),
        processor_payment_id=intent_of(data),
        livemode=event.livemode,
        **said,
        **amounts,
    )
    return [fact]


def paid(event: WebhookEvent) -> list[Fact]:
    return observed(event, paid=True)


def checkout_completed(event: WebhookEvent) -> list[Fact]:
    if event.data.get("mode") in ("subscription", "setup"):
        return []  # a subscription's checkout, or a method saved: not a payment of ours
    # A delayed method (a bank debit) completes the session unpaid: it stays pending.
    return observed(event, paid=event.data.get("payment_status") != "unpaid")


def checkout_failed(event: WebhookEvent) -> list[Fact]:
    return [PaymentObserved(payment_ref(event.data), ended="failed")]


def checkout_expired(event: WebhookEvent) -> list[Fact]:
    return [PaymentObserved(payment_ref(event.data), ended="canceled")]


def payment_failed(event: WebhookEvent) -> list[Fact]:
    """A declined attempt: recorded on the payment; the buyer may try again."""
    error = event.data.get("last_payment_error") or {}
    return [
        PaymentObserved(
            payment_ref(event.data),
            failure_code=text(error.get("decline_code") or error.get("code")),
            failure_message=text(error.get("message")),
        )
    ]


def held(event: WebhookEvent) -> list[Fact]:
    """The PaymentIntent holds `amount_capturable` until it is captured (manual capture)."""
    data = event.data
    if data.get("status") != "requires_capture":
        return []  # the amount was captured or released since
    capturable = data.get("amount_capturable")
    return observed(
        event,
        held=True,
        amount=capturable if isinstance(capturable, int) else None,
        currency=text(data.get("currency")),
    )


def requires_action(event: WebhookEvent) -> list[Fact]:
    action = event.data.get("next_action") or {}
    url = (action.get("redirect_to_url") or {}).get("url")
    return observed(event, needs_action=True, action_url=text(url))


def intent_canceled(event: WebhookEvent) -> list[Fact]:
    return [PaymentObserved(payment_ref(event.data), ended="canceled")]


def card_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """What may be shown of a payment method: brand, last four, expiry (never more)."""
    card = data.get("card") or {}
    return shown_card(
        kind=data.get("type"),
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def method_attached(event: WebhookEvent) -> list[Fact]:
    data = event.data
    customer = text(data.get("customer"))
    if customer is None:
        return []
    return [PaymentMethodObserved(str(data["id"]), customer, **card_of(data))]


def method_detached(event: WebhookEvent) -> list[Fact]:
    return [PaymentMethodObserved(str(event.data["id"]), None, removed=True)]


def setup_succeeded(event: WebhookEvent) -> list[Fact]:
    """A method saved without a payment (its details come with `payment_method.attached`)."""
    data = event.data
    method, customer = text(data.get("payment_method")), text(data.get("customer"))
    if method is None or customer is None:
        return []
    return [PaymentMethodObserved(method, customer)]


def charge_refunded(event: WebhookEvent) -> list[Fact]:
    data = event.data
    refunded = int(data.get("amount_refunded") or 0)
    return observed(event, paid=True, refunded=refunded, receipt_url=text(data.get("receipt_url")))


def charge_succeeded(event: WebhookEvent) -> list[Fact]:
    """The charge's receipt page. Stripe copies the PaymentIntent's metadata (our payment's
    id) to its charge; a charge with none is not a payment of ours (a subscription's
    invoice). Whether the payment is paid, the intent's and session's events say."""
    receipt = text(event.data.get("receipt_url"))
    return observed(event, receipt_url=receipt, unknown="ignore")


def refund_updated(event: WebhookEvent) -> list[Fact]:
    data = event.data
    return [
        RefundObserved(
            processor_refund_id=text(data.get("id")),
            refund_id=text((data.get("metadata") or {}).get("refund_id")),
            status=FINAL_REFUNDS.get(str(data.get("status"))),
        )
    ]


def dispute(event: WebhookEvent) -> list[Fact]:
    data = event.data
    due = (data.get("evidence_details") or {}).get("due_by")
    return [
        DisputeObserved(
            payment_ref(data),
            dispute_id=str(data["id"]),
            status=DISPUTE_STATUSES.get(str(data.get("status"))),
            amount=int(data.get("amount") or 0),
            currency=text(data.get("currency")),
            reason=text(data.get("reason")),
            due_by=stripe_time(due),
            version=event.created_at,
        )
    ]


#: Event type -> reader: the payment events Stripe's adapter handles (`events.json`).
READERS: dict[str, Reader] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": paid,
    "checkout.session.async_payment_failed": checkout_failed,
    "checkout.session.expired": checkout_expired,
    "payment_intent.succeeded": paid,
    "payment_intent.payment_failed": payment_failed,
    "payment_intent.amount_capturable_updated": held,
    "payment_intent.requires_action": requires_action,
    "payment_intent.canceled": intent_canceled,
    "payment_method.attached": method_attached,
    "payment_method.updated": method_attached,
    "payment_method.automatically_updated": method_attached,
    "payment_method.detached": method_detached,
    "setup_intent.succeeded": setup_succeeded,
    "charge.refunded": charge_refunded,
    "charge.succeeded": charge_succeeded,
    "refund.updated": refund_updated,
    "charge.dispute.created": dispute,
    "charge.dispute.updated": dispute,
    "charge.dispute.closed": dispute,
}

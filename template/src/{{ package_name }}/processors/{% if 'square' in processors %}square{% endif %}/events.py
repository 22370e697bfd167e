"""Square's events (Payments, Refunds, Disputes) verified and read into neutral facts.

- Verification: HMAC-SHA256 over the notification URL and the raw body, base64, in
  `x-square-hmacsha256-signature`, checked by the SDK's own `verify_signature`. The URL is
  built from `PUBLIC_BASE_URL`, never from the request. There is no timestamp: the inbox's
  dedup by event id carries the whole load.
- `payment.created` / `payment.updated`: the payment of a payment link names its order,
  which is our payment's `processor_ref` (recorded before the buyer had the link, so an
  unknown order is not ours: a subscription invoice's, or a sale made elsewhere). A
  COMPLETED payment makes ours paid; `refunded_money` is the payment's cumulative refunded
  amount, so a late or repeated event cannot count twice.
- `refund.created` / `refund.updated`: our refund (by Square's id) becomes final.
- `dispute.created` / `dispute.state.updated`: the dispute keeps its newest state (its
  `updated_at`).
- A payment of an off-session charge (no order: our payment id is its `reference_id`):
  `APPROVED` holds it (`authorized`), `FAILED` and `CANCELED` end it.
- `card.created` / `.updated` / `.automatically_updated`: a card on file of a customer (its
  id, brand, last four, expiry); `card.disabled` / `.forgotten`: no longer kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from square.utils.webhooks_helper import verify_signature

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
from .shapes import amount_of, square_time

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
DISPUTE_STATES: dict[str, DisputeStatus] = {
    "INQUIRY_EVIDENCE_REQUIRED": "needs_response",
    "EVIDENCE_REQUIRED": "needs_response",
    "INQUIRY_PROCESSING": "under_review",
    "PROCESSING": "under_review",
    "INQUIRY_CLOSED": "closed",
    "WON": "won",
    "LOST": "lost",
    "ACCEPTED": "lost",
}
REFUND_STATES: dict[str, FinalRefundStatus] = {
    "COMPLETED": "succeeded",
    "REJECTED": "failed",
    "FAILED": "failed",
}


def verify(body: bytes, headers: Mapping[str, str], key: str, notification_url: str) -> None:
    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        raise WebhookVerificationError(f"missing {SIGNATURE_HEADER} header")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookVerificationError("the body is not a Square event") from None
    if not verify_signature(
        request_body=payload,
        signature_header=signature,
        signature_key=key,
        notification_url=notification_url,
    ):
        raise WebhookVerificationError("the Square signature does not match")


def parse(body: bytes) -> WebhookEvent:
    """A Square webhook event (or an event of the Events API: the same shape)."""
    event = json.loads(body)
    data = event["data"]
    return WebhookEvent(
        processor="square",
        event_id=str(event["event_id"]),
        type=str(event["type"]),
        # The signature key belongs to one environment's subscription.
        livemode=None,
        created_at=square_time(event.get("created_at")),
        # {"payment": {...}}, {"refund": {...}}, ...: the object, under its type's name.
        data=data.get("object") or {},
    )


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def charge_changed(square: Mapping[str, Any]) -> list[Fact]:
    """A payment of an off-session charge of ours (no payment link, no order)."""
    ref = PaymentRef(
        payment_id=text(square.get("reference_id")), processor_payment_id=text(square.get("id"))
    )
    status = square.get("status")
    money = square.get("amount_money") or {}
    amount, currency = amount_of(money), text(money.get("currency"))
    if status == "APPROVED":
        return [PaymentObserved(ref, held=True, unknown="ignore", amount=amount, currency=currency)]
    if status == "FAILED":
        return [PaymentObserved(ref, ended="failed", unknown="ignore")]
    if status == "CANCELED":
        return [PaymentObserved(ref, ended="canceled", unknown="ignore")]
    paid = status == "COMPLETED"
    return [
        PaymentObserved(
            ref,
            paid=paid,
            refunded=amount_of(square.get("refunded_money")),
            unknown="ignore",
            amount=amount if paid else None,
            currency=currency if paid else None,
            receipt_url=text(square.get("receipt_url")),
        )
    ]


def payment_changed(event: WebhookEvent) -> list[Fact]:
    square = event.data.get("payment") or {}
    if not square.get("order_id") and square.get("reference_id"):
        return charge_changed(square)
    ref = PaymentRef(processor_ref=text(square.get("order_id")),
                     processor_payment_id=text(square.get("id")))  # fmt: skip
    status = square.get("status")
    if status in ("FAILED", "CANCELED"):
        # The buyer may try again on the same payment link.
        return [
            PaymentObserved(
                ref,
                processor_payment_id=text(square.get("id")),
                failure_code=str(status).lower(),
                unknown="ignore",
            )
        ]
    money = square.get("amount_money") or {}
    paid = status == "COMPLETED"
    return [
        PaymentObserved(
            ref,
            paid=paid,
            processor_payment_id=text(square.get("id")),
            refunded=amount_of(square.get("refunded_money")),
            unknown="ignore",
            amount=amount_of(money) if paid and money else None,
            currency=text(money.get("currency")) if paid else None,
            receipt_url=text(square.get("receipt_url")),
        )
    ]


def refund_changed(event: WebhookEvent) -> list[Fact]:
    square = event.data.get("refund") or {}
    status = REFUND_STATES.get(str(square.get("status")))
    return [RefundObserved(processor_refund_id=text(square.get("id")), status=status)]


def dispute(event: WebhookEvent) -> list[Fact]:
    """The dispute sits under `object.object` in Square's schema (and the squareup model),
    under `object.dispute` in its examples: either is read."""
    square = event.data.get("object") or event.data.get("dispute") or {}
    money = square.get("amount_money") or {}
    paid = (square.get("disputed_payment") or {}).get("payment_id")
    return [
        DisputeObserved(
            PaymentRef(processor_payment_id=text(paid)),
            dispute_id=str(square.get("id") or square["dispute_id"]),  # `dispute_id`: deprecated
            status=DISPUTE_STATES.get(str(square.get("state"))),
            amount=amount_of(money),
            currency=str(money.get("currency", "")).lower() or None,
            reason=text(square.get("reason")),
            due_by=square_time(square.get("due_at")),
            version=square_time(square.get("updated_at")) or event.created_at,
        )
    ]


def card_observed(card: Mapping[str, Any]) -> PaymentMethodObserved | None:
    """A card on file, as a saved method (nothing if it names no customer)."""
    card_id, customer = text(card.get("id")), text(card.get("customer_id"))
    if card_id is None or customer is None:
        return None
    if card.get("enabled") is False:
        return PaymentMethodObserved(card_id, customer, removed=True)
    shown = shown_card(
        kind="card",
        brand=card.get("card_brand"),
        last4=card.get("last_4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )
    return PaymentMethodObserved(card_id, customer, **shown)


def card_changed(event: WebhookEvent) -> list[Fact]:
    found = card_observed(event.data.get("card") or {})
    return [found] if found is not None else []


def card_gone(event: WebhookEvent) -> list[Fact]:
    card_id = text((event.data.get("card") or {}).get("id"))
    return [PaymentMethodObserved(card_id, None, removed=True)] if card_id else []


#: Event type -> reader: the payment events Square's adapter handles (`events.json`).
READERS: dict[str, Reader] = {
    "payment.created": payment_changed,
    "payment.updated": payment_changed,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "dispute.created": dispute,
    "dispute.state.updated": dispute,
    "card.created": card_changed,
    "card.updated": card_changed,
    "card.automatically_updated": card_changed,
    "card.disabled": card_gone,
    "card.forgotten": card_gone,
}

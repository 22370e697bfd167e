"""PayPal's events (Orders v2, Payments v2, Disputes) read into neutral facts.

- `CHECKOUT.ORDER.APPROVED`: the buyer approved; the worker captures the order (the buyer's
  return may have done it already: the capture is idempotent, see `capture_locked`).
- `PAYMENT.CAPTURE.COMPLETED` makes the payment paid; `DENIED` fails a pending one;
  `PENDING` records the capture, which stays pending.
- `PAYMENT.CAPTURE.REFUNDED` carries the capture's cumulative refunded amount
  (`seller_payable_breakdown.total_refunded_amount`), so a late or repeated event cannot
  count twice; `REVERSED` (PayPal took the funds back) counts as refunded in full.
- `CUSTOMER.DISPUTE.*`: the dispute keeps its newest state (the dispute's `update_time`).
- Objects name our payment by `custom_id` (set on the order), the capture, or the order.
- `PAYMENT.AUTHORIZATION.CREATED`: an AUTHORIZE order is held (`authorized`);
  `.VOIDED`: the hold was released (voided, or expired): the payment is canceled.
- `VAULT.PAYMENT-TOKEN.CREATED` / `.DELETED`: a wallet or card PayPal keeps for a customer
  (its token, and for a card the brand, last four and expiry), or no longer keeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...domain.facts import (
    CheckoutApproved,
    DisputeObserved,
    DisputeStatus,
    Fact,
    PaymentMethodObserved,
    PaymentObserved,
    PaymentRef,
    RefundObserved,
)
from ..base import Reader, WebhookEvent, shown_card
from .shapes import link, minor_units, order_custom_id, paypal_time

DISPUTE_STATUSES: dict[str, DisputeStatus] = {
    "WAITING_FOR_SELLER_RESPONSE": "needs_response",
    "OPEN": "under_review",
    "WAITING_FOR_BUYER_RESPONSE": "under_review",
    "UNDER_REVIEW": "under_review",
    "OTHER": "under_review",
}
LOST = frozenset({"RESOLVED_BUYER_FAVOUR", "RESOLVED_WITH_PAYOUT", "ACCEPTED"})
WON = frozenset({"RESOLVED_SELLER_FAVOUR", "CANCELED_BY_BUYER", "DENIED"})


def parse(body: bytes) -> WebhookEvent:
    """A PayPal webhook event: `resource` is the object it is about."""
    event = json.loads(body)
    return WebhookEvent(
        processor="paypal",
        event_id=str(event["id"]),
        type=str(event["event_type"]),
        # The webhook id the event was verified against belongs to one environment.
        livemode=None,
        created_at=paypal_time(event.get("create_time")),
        data=event["resource"],
    )


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def order_of(capture: Mapping[str, Any]) -> str | None:
    return text(
        ((capture.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
    )


def capture_of(refund: Mapping[str, Any]) -> str | None:
    """The capture a refund belongs to: its `up` link ends with the capture's id."""
    up = link(refund, "up")
    return up.rstrip("/").rsplit("/", 1)[-1] if up else None


def captured(capture: Mapping[str, Any]) -> PaymentRef:
    return PaymentRef(
        payment_id=text(capture.get("custom_id")),
        processor_payment_id=text(capture.get("id")),
        processor_ref=order_of(capture),
    )


def order_approved(event: WebhookEvent) -> list[Fact]:
    order = event.data
    return [
        CheckoutApproved(PaymentRef(order_custom_id(order), processor_ref=text(order.get("id"))))
    ]


def capture_completed(event: WebhookEvent) -> list[Fact]:
    capture = event.data
    amount = capture.get("amount") or {}
    return [
        PaymentObserved(
            captured(capture),
            paid=True,
            processor_payment_id=text(capture.get("id")),
            amount=minor_units(amount) if amount else None,
            currency=text(amount.get("currency_code")),
        )
    ]


def capture_pending(event: WebhookEvent) -> list[Fact]:
    capture = event.data
    reason = (capture.get("status_details") or {}).get("reason")
    return [
        PaymentObserved(
            captured(capture),
            processor_payment_id=text(capture.get("id")),
            failure_code=text(reason),
        )
    ]


def capture_denied(event: WebhookEvent) -> list[Fact]:
    return [PaymentObserved(captured(event.data), ended="failed", failure_code="capture_denied")]


def authorized(authorization: Mapping[str, Any]) -> PaymentRef:
    return PaymentRef(
        payment_id=text(authorization.get("custom_id")),
        processor_payment_id=text(authorization.get("id")),
        processor_ref=order_of(authorization),
    )


def authorization_created(event: WebhookEvent) -> list[Fact]:
    data = event.data
    if data.get("status") != "CREATED":
        return []  # captured or voided since: their own events say so
    amount = data.get("amount") or {}
    return [
        PaymentObserved(
            authorized(data),
            held=True,
            processor_payment_id=text(data.get("id")),
            amount=minor_units(amount) if amount else None,
            currency=text(amount.get("currency_code")),
        )
    ]


def authorization_voided(event: WebhookEvent) -> list[Fact]:
    return [PaymentObserved(authorized(event.data), ended="canceled")]


def token_created(event: WebhookEvent) -> list[Fact]:
    found = token_fact(event.data)
    return [found] if found is not None else []


def token_fact(token: Mapping[str, Any]) -> PaymentMethodObserved | None:
    """A payment token of the vault (Vault v3), as a saved method: a wallet (nothing to
    show) or a card (brand, last four, expiry)."""
    customer = text((token.get("customer") or {}).get("id"))
    if customer is None or not text(token.get("id")):
        return None
    source = token.get("payment_source") or {}
    card = source.get("card") or {}
    year, _, month = str(card.get("expiry") or "").partition("-")
    shown = shown_card(
        kind="card" if card else next(iter(source), None),
        brand=card.get("brand"),
        last4=card.get("last_digits"),
        exp_month=int(month) if month.isdigit() else None,
        exp_year=int(year) if year.isdigit() else None,
    )
    return PaymentMethodObserved(str(token["id"]), customer, **shown)


def token_deleted(event: WebhookEvent) -> list[Fact]:
    token_id = text(event.data.get("id"))
    return [PaymentMethodObserved(token_id, None, removed=True)] if token_id else []


def capture_refunded(event: WebhookEvent) -> list[Fact]:
    refund = event.data
    facts: list[Fact] = []
    if refund.get("status") == "COMPLETED":
        # A refund of ours names our refund in `invoice_id`.
        facts.append(
            RefundObserved(
                processor_refund_id=text(refund.get("id")),
                refund_id=text(refund.get("invoice_id")),
                status="succeeded",
            )
        )
    breakdown = refund.get("seller_payable_breakdown") or {}
    total = minor_units(breakdown.get("total_refunded_amount")) or minor_units(refund.get("amount"))
    reversed_ = event.type == "PAYMENT.CAPTURE.REVERSED"
    ref = PaymentRef(
        payment_id=text(refund.get("custom_id")), processor_payment_id=capture_of(refund)
    )
    facts.append(PaymentObserved(ref, paid=True, refunded=total, refunded_in_full=reversed_))
    return facts


def dispute(event: WebhookEvent) -> list[Fact]:
    data = event.data
    transactions = data.get("disputed_transactions") or [{}]
    status = DISPUTE_STATUSES.get(str(data.get("status")))
    if data.get("status") == "RESOLVED":
        outcome = str((data.get("dispute_outcome") or {}).get("outcome_code"))
        status = "lost" if outcome in LOST else "won" if outcome in WON else "closed"
    money = data.get("dispute_amount")
    ref = PaymentRef(
        payment_id=text(transactions[0].get("custom")),
        processor_payment_id=text(transactions[0].get("seller_transaction_id")),
    )
    return [
        DisputeObserved(
            ref,
            dispute_id=str(data["dispute_id"]),
            status=status,
            amount=minor_units(money),
            currency=str((money or {}).get("currency_code", "")).lower() or None,
            reason=text(data.get("reason")),
            due_by=paypal_time(data.get("seller_response_due_date")),
            version=paypal_time(data.get("update_time")) or event.created_at,
        )
    ]


#: Event type -> reader: the payment events PayPal's adapter handles (`events.json`).
READERS: dict[str, Reader] = {
    "CHECKOUT.ORDER.APPROVED": order_approved,
    "PAYMENT.CAPTURE.COMPLETED": capture_completed,
    "PAYMENT.CAPTURE.PENDING": capture_pending,
    "PAYMENT.CAPTURE.DENIED": capture_denied,
    "PAYMENT.CAPTURE.REFUNDED": capture_refunded,
    "PAYMENT.CAPTURE.REVERSED": capture_refunded,
    "PAYMENT.AUTHORIZATION.CREATED": authorization_created,
    "PAYMENT.AUTHORIZATION.VOIDED": authorization_voided,
    "VAULT.PAYMENT-TOKEN.CREATED": token_created,
    "VAULT.PAYMENT-TOKEN.DELETED": token_deleted,
    "CUSTOMER.DISPUTE.CREATED": dispute,
    "CUSTOMER.DISPUTE.UPDATED": dispute,
    "CUSTOMER.DISPUTE.RESOLVED": dispute,
}

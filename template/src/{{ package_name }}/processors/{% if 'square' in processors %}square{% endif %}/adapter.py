"""Square, through the official squareup SDK (`square.Square`, over httpx).

- The SDK's defaults are never used: the environment, the access token (it would read
  `SQUARE_TOKEN` from the process environment) and the API version (`Square-Version`) are
  passed explicitly, from our settings.
- Checkout is a payment link for an order that carries our payment id (`reference_id`);
  events name the order, which is the payment's `processor_ref`.
- Every create carries an `idempotency_key` derived from our own operation
  (`<payment id>:checkout`, `<refund id>:refund`, `<customer id>:customer`, ...). The SDK
  retries 408, 409, 429 and 5xx twice with the same body, so the same key.
- Webhooks: HMAC-SHA256 over the notification URL and the raw body, base64, in
  `x-square-hmacsha256-signature`, checked by the SDK's own `verify_signature`. The URL is
  built from `PUBLIC_BASE_URL`, never from the request. There is no timestamp: the inbox's
  dedup by event id carries the whole load.
- Saved methods are cards on file: a payment link cannot keep a card, so once a checkout
  that asked to keep it is paid, the card is made from the payment (`CreateCard` with the
  payment as its source). An off-session charge is `CreatePayment` with the card, marked
  merchant-initiated; a held one is not autocompleted (`APPROVED`), then completed or
  canceled. Square completes what it holds (no partial capture here), has no page to save
  a card without paying, and its payment links capture at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from square import Square
from square.environment import SquareEnvironment

from ...domain.facts import Fact, PaymentMethodObserved, PaymentObserved, PaymentRef
from ..base import (
    Adapter,
    CaptureRequest,
    CatalogItem,
    CatalogRef,
    ChargeRequest,
    Checkout,
    CheckoutRequest,
    CustomerRequest,
    KeepRequest,
    PaymentSnapshot,
    PaymentState,
    ProcessorError,
    Reader,
    RefundRequest,
    RefundResult,
    RefundState,
    SetupRequest,
    WebhookEvent,
    WebhookVerificationError,
    attempt_timeout,
)
from . import events
from .errors import as_json, square_errors
from .events import card_observed
from .shapes import amount_of

#: The Square API version this adapter is written and tested against (`Square-Version`).
SQUARE_API_VERSION = "2026-09-16"
#: The SDK's own retries of 408, 409, 429 and 5xx (its default): they share the time budget.
SDK_RETRIES = 2
#: A Square payment's status, as a payment's.
PAYMENT_STATES: dict[str, PaymentState] = {
    "COMPLETED": "succeeded",
    "APPROVED": "authorized",
    "FAILED": "failed",
    "CANCELED": "canceled",
}
REFUND_STATES: dict[str, RefundState] = {
    "COMPLETED": "succeeded",
    "REJECTED": "failed",
    "FAILED": "failed",
}


class SquareProcessor(Adapter):
    name = "square"
    #: Promotion codes: this service applies them itself, as a discount on the order.
    local_discounts: ClassVar[bool] = True
    #: TAX_MODE=processor: Square applies the seller's catalog taxes to the order.
    computes_tax: ClassVar[bool] = True
    readers: ClassVar[Mapping[str, Reader]] = events.READERS
    manual_checkout = False
    partial_capture = False
    setup_page = False

    def __init__(
        self,
        access_token: str,
        signature_key: str,
        location_id: str,
        notification_url: str,
        *,
        environment: str = "sandbox",
        api_base: str | None = None,
        budget_s: float = 20.0,
    ) -> None:
        self.signature_key = signature_key
        self.location_id = location_id
        self.notification_url = notification_url
        self.live = environment == "production"
        self.client = Square(
            token=access_token,
            environment=SquareEnvironment.PRODUCTION if self.live else SquareEnvironment.SANDBOX,
            # Development and tests only (refused in production): a local Square.
            base_url=api_base.rstrip("/") if api_base else None,
            timeout=attempt_timeout(budget_s, SDK_RETRIES),
            version=SQUARE_API_VERSION,
        )

    # -- checkout and refunds ----------------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        currency = request.currency.upper()
        with square_errors():
            answer = self.client.checkout.payment_links.create(
                idempotency_key=f"{request.payment_id}:checkout",
                order={
                    "location_id": self.location_id,
                    "reference_id": request.payment_id,
                    "metadata": {"payment_id": request.payment_id},
                    **({"customer_id": request.processor_customer_id}
                       if request.processor_customer_id else {}),
                    "line_items": [
                        {
                            "name": request.description[:512],
                            "quantity": "1",
                            "base_price_money": {
                                "amount": request.amount,
                                "currency": currency,
                            },
                        }
                    ],
                    # A promotion code's discount, as this service computed it.
                    **({"discounts": [{
                        "uid": "promotion",
                        "name": "Promotion code",
                        "type": "FIXED_AMOUNT",
                        "amount_money": {"amount": request.discount, "currency": currency},
                        "scope": "ORDER",
                    }]} if request.discount else {}),
                    # The taxes the seller set up in Square for custom amounts, computed
                    # by Square on what is left after the discount.
                    **({"pricing_options": {"auto_apply_taxes": True}}
                       if request.automatic_tax else {}),
                },
                checkout_options={"redirect_url": request.success_url},
                payment_note=request.payment_id,
                # Absent values are left out, never sent as null.
                **({"pre_populated_data": {"buyer_email": request.customer_email}}
                   if request.customer_email else {}),
            )  # fmt: skip
        found = as_json(answer)
        link = found.get("payment_link") or {}
        if not request.automatic_tax:
            return Checkout(processor_ref=str(link["order_id"]), url=link.get("url"))
        # The order as Square priced it: what the buyer pays, and the tax in it.
        order = ((found.get("related_resources") or {}).get("orders") or [{}])[0]
        total = order.get("total_money") or {}
        if total.get("currency") != currency:
            raise ProcessorError("error", "Square's answer did not say what the order's total is")
        return Checkout(
            processor_ref=str(link["order_id"]),
            url=link.get("url"),
            amount=amount_of(total),
            amount_tax=amount_of(order.get("total_tax_money")),
        )

    def read_back(self, payment: PaymentRef) -> list[Fact]:
        """The payment's refunds (each read by id) and what it says is refunded. Square
        lists disputes by location only: their events and `reconcile --since` bring them."""
        if not payment.processor_payment_id:
            return []
        with square_errors():
            found = as_json(self.client.payments.get(payment.processor_payment_id))
        square = found.get("payment") or {}
        now = datetime.now(UTC)
        facts: list[Fact] = []
        refunded = amount_of(square.get("refunded_money"))
        if refunded:
            facts.append(PaymentObserved(payment, paid=True, refunded=refunded))
        for refund_id in square.get("refund_ids") or []:
            with square_errors():
                refund = as_json(self.client.refunds.get(str(refund_id)))
            read = WebhookEvent(self.name, "resync", "refund.updated", None, now, refund)
            facts += events.refund_changed(read)
        return facts

    def retrieve_payment(self, processor_ref: str) -> PaymentSnapshot:
        """The order behind the payment link, and its payment once the buyer paid; or an
        off-session charge's payment (no order: its reference is the payment's)."""
        try:
            with square_errors():
                order = as_json(self.client.orders.get(processor_ref)).get("order") or {}
        except ProcessorError as exc:
            if exc.kind != "invalid_request":
                raise
            with square_errors():
                charged = as_json(self.client.payments.get(processor_ref)).get("payment")
            return self._payment(charged or {})
        tenders = order.get("tenders") or []
        payment_id = tenders[0].get("payment_id") if tenders else None
        payment: dict[str, Any] = {}
        if payment_id:
            with square_errors():
                payment = as_json(self.client.payments.get(payment_id)).get("payment") or {}
        status: PaymentState = "pending"
        if order.get("state") == "CANCELED":
            status = "canceled"
        elif order.get("state") == "COMPLETED" or payment.get("status") == "COMPLETED":
            status = "succeeded"
        total = order.get("total_money") or {}
        return PaymentSnapshot(
            processor_ref=processor_ref,
            status=status,
            amount=int(total.get("amount") or 0),
            currency=str(total.get("currency", "")).lower(),
            processor_payment_id=payment_id,
            livemode=self.live,
        )

    def capture(self, processor_ref: str) -> PaymentSnapshot:
        # Payment links complete their payments: nothing to capture.
        return self.retrieve_payment(processor_ref)

    def refund(self, request: RefundRequest) -> RefundResult:
        with square_errors():
            answer = self.client.refunds.refund_payment(
                idempotency_key=f"{request.refund_id}:refund",
                amount_money={
                    "amount": request.amount,
                    "currency": request.currency.upper(),
                },
                payment_id=request.processor_payment_id,
                **({"reason": request.reason[:192]} if request.reason else {}),
            )
        refund = as_json(answer).get("refund") or {}
        return RefundResult(
            processor_refund_id=str(refund["id"]),
            status=REFUND_STATES.get(str(refund.get("status")), "pending"),
        )

    # -- saved methods (cards on file), held amounts -----------------------------------------

    def ensure_customer(self, request: CustomerRequest) -> str:
        if request.email is None:  # Square needs a way to reach its customer
            raise ProcessorError(
                "invalid_request", "Square customers need the customer's email address"
            )
        with square_errors():
            answer = self.client.customers.create(
                idempotency_key=f"{request.customer_id}:customer",
                email_address=request.email,
                reference_id=request.customer_id,
            )
        return str((as_json(answer).get("customer") or {})["id"])

    def keep_paid_method(self, request: KeepRequest) -> PaymentMethodObserved | None:
        """A card on file made from the paid checkout's payment."""
        with square_errors():
            answer = self.client.cards.create(
                idempotency_key=f"{request.payment_id}:card",
                source_id=request.processor_payment_id,
                card={
                    "customer_id": request.processor_customer_id,
                    "reference_id": request.payment_id,
                },
            )
        return card_observed(as_json(answer).get("card") or {})

    def create_setup(self, request: SetupRequest) -> Checkout:
        raise ProcessorError(
            "invalid_request",
            "Square has no page to save a card without paying: use save_payment_method on a "
            "checkout",
        )

    def _payment(self, payment: Mapping[str, Any]) -> PaymentSnapshot:
        money = payment.get("amount_money") or {}
        return PaymentSnapshot(
            processor_ref=str(payment["id"]),
            status=PAYMENT_STATES.get(str(payment.get("status")), "pending"),
            amount=int(money.get("amount") or 0),
            currency=str(money.get("currency", "")).lower(),
            processor_payment_id=str(payment["id"]),
            livemode=self.live,
        )

    def charge_saved(self, request: ChargeRequest) -> PaymentSnapshot:
        with square_errors():
            answer = self.client.payments.create(
                source_id=request.processor_payment_method_id,
                idempotency_key=f"{request.payment_id}:charge",
                amount_money={"amount": request.amount, "currency": request.currency.upper()},
                customer_id=request.processor_customer_id,
                location_id=self.location_id,
                reference_id=request.payment_id,
                note=request.description[:500],
                autocomplete=request.capture == "automatic",
                customer_details={"customer_initiated": False, "seller_keyed_in": False},
            )
        return self._payment(as_json(answer).get("payment") or {})

    def capture_authorized(self, request: CaptureRequest) -> PaymentSnapshot:
        """All of what the payment holds (`partial_capture` is off: the domain asks no less)."""
        with square_errors():
            answer = self.client.payments.complete(payment_id=request.processor_payment_id)
        return self._payment(as_json(answer).get("payment") or {})

    def cancel_authorized(self, payment_id: str, processor_payment_id: str) -> PaymentSnapshot:
        with square_errors():
            answer = self.client.payments.cancel(payment_id=processor_payment_id)
        return self._payment(as_json(answer).get("payment") or {})

    def detach_payment_method(self, processor_payment_method_id: str) -> None:
        with square_errors():
            self.client.cards.disable(card_id=processor_payment_method_id)

    # -- webhooks ----------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        events.verify(body, headers, self.signature_key, self.notification_url)
        try:
            return self.event_from_payload(body)
        except (ValueError, KeyError, TypeError):
            raise WebhookVerificationError("the body is not a Square event") from None

    def event_from_payload(self, body: bytes) -> WebhookEvent:
        return events.parse(body)

    def recent_events(self, since: datetime) -> Iterator[bytes]:
        """Square's Events API (28 days), page by page."""
        start = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        paging: dict[str, str] = {}  # the first page has no cursor: none is sent (not null)
        while True:
            with square_errors():
                page = as_json(
                    self.client.events.search_events(
                        **paging, limit=100, query={"filter": {"created_at": {"start_at": start}}}
                    )
                )
            for event in page.get("events") or []:
                yield json.dumps(event).encode()
            cursor = page.get("cursor")
            if not cursor:
                return
            paging = {"cursor": str(cursor)}

    # -- catalog -----------------------------------------------------------------------------

    def sync_product(self, item: CatalogItem) -> CatalogRef | None:
        """Nothing to create for a product: payment links carry their amount (plans: the
        subscription side's)."""
        return None


ADAPTER = SquareProcessor

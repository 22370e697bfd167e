"""One interface for every processor.

Adapters translate between our neutral types and a processor's SDK; they never touch the
database, and the domain never imports an SDK. The processors differ, and the interface
says how:

- Stripe: a Checkout Session (hosted redirect, or embedded); the payment is final when
  the session completes.
- PayPal: an order the buyer approves; the server must then `capture` it.
- Square: a payment link that carries its own order id, which events refer to.
- Each verifies webhook signatures its own way, inside `parse_webhook`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

CheckoutMode = Literal["hosted", "embedded"]
PaymentState = Literal["pending", "succeeded", "failed", "canceled"]
RefundState = Literal["pending", "succeeded", "failed", "canceled"]
ErrorKind = Literal[
    "declined", "rate_limited", "invalid_request", "authentication", "unavailable", "error"
]


@dataclass(frozen=True)
class CheckoutRequest:
    payment_id: str
    amount: int
    currency: str
    description: str
    success_url: str
    cancel_url: str
    customer_email: str | None = None
    mode: CheckoutMode = "hosted"
    #: A price created by `catalog sync`, used instead of an ad-hoc amount.
    price_ref: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogItem:
    """A catalog.yml product, to create or update at a processor."""

    key: str
    name: str
    description: str
    amount: int
    currency: str


@dataclass(frozen=True)
class CatalogRef:
    """Where a catalog item lives at a processor."""

    product_id: str
    price_id: str
    created: bool
    archived_price_id: str | None = None


@dataclass(frozen=True)
class Checkout:
    #: The processor's checkout object: Stripe session, PayPal order, Square order id.
    processor_ref: str
    #: Where to send the buyer (hosted checkout), if any.
    url: str | None
    #: For embedded checkout: what the processor's script needs.
    client_secret: str | None = None
    #: PayPal: the server captures the payment after the buyer approves.
    requires_capture: bool = False


@dataclass(frozen=True)
class PaymentSnapshot:
    """A payment as the processor sees it now."""

    processor_ref: str
    status: PaymentState
    amount: int
    currency: str
    processor_payment_id: str | None = None
    livemode: bool = False
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class RefundRequest:
    refund_id: str
    processor_payment_id: str
    amount: int
    currency: str
    reason: str | None = None


@dataclass(frozen=True)
class RefundResult:
    processor_refund_id: str
    status: RefundState


@dataclass(frozen=True)
class WebhookEvent:
    """A verified delivery, before any interpretation."""

    processor: str
    event_id: str
    type: str
    livemode: bool | None
    created_at: datetime | None
    data: Mapping[str, Any]


def stripe_shaped_event(processor: str, body: bytes) -> WebhookEvent:
    """An event in Stripe's shape (Stripe's own, and the fake processor's)."""
    event = json.loads(body)
    return WebhookEvent(
        processor=processor,
        event_id=str(event["id"]),
        type=str(event["type"]),
        livemode=bool(event.get("livemode", False)),
        created_at=datetime.fromtimestamp(int(event["created"]), UTC),
        data=event["data"]["object"],
    )


class ProcessorError(Exception):
    """A processor call failed; `kind` says how, the message never contains a secret."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        decline_code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.decline_code = decline_code
        self.retry_after = retry_after


class WebhookVerificationError(Exception):
    """The delivery's signature is missing, malformed, wrong or stale."""


class Processor(Protocol):
    name: str

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Start a checkout; idempotent per `request.payment_id`."""
        ...

    def retrieve_payment(self, processor_ref: str) -> PaymentSnapshot:
        """The payment behind a checkout, as the processor sees it now."""
        ...

    def capture(self, processor_ref: str) -> PaymentSnapshot:
        """Capture an approved payment (PayPal); elsewhere the same as retrieve_payment."""
        ...

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund all or part of a payment; idempotent per `request.refund_id`."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify a delivery's signature and parse it; raise WebhookVerificationError."""
        ...

    def event_from_payload(self, body: bytes) -> WebhookEvent:
        """Parse a delivery stored by the inbox (already verified when it arrived)."""
        ...

    def recent_events(self, since: datetime) -> Iterator[bytes]:
        """Events the processor sent since `since`, as stored payloads (for reconcile)."""
        ...

    def sync_product(self, item: CatalogItem) -> CatalogRef | None:
        """Create or update `item` at the processor, never mutating a price (None: no catalog)."""
        ...

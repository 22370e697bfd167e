"""An offline processor for demos and tests, refused in production.

Its "hosted checkout" is a page of this service (`/fake-checkout/{ref}`) where you choose
what happens: the payment succeeds, is declined, or asks for authentication first. It
then delivers a signed event (`events.py`) through the same webhook inbox as the real
processors. Its state lives in memory: it is a stand-in, not a ledger.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, Protocol

from ...domain.facts import Fact, PaymentObserved, PaymentRef
from ...ids import new_id, stable_id
from ..base import (
    Adapter,
    CatalogItem,
    CatalogRef,
    Checkout,
    CheckoutRequest,
    PaymentSnapshot,
    PaymentState,
    ProcessorError,
    Reader,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from . import events

Outcome = Literal["succeed", "decline", "authentication_failed"]
#: A signed delivery: (body, headers).
Delivery = tuple[bytes, dict[str, str]]


class Purchase(Protocol):
    """What the checkout page shows, and where it sends the buyer back."""

    @property
    def description(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def success_url(self) -> str: ...
    @property
    def cancel_url(self) -> str: ...


@dataclass
class FakeSession:
    ref: str
    request: Purchase
    status: PaymentState = "pending"
    payment_intent: str | None = None

    @property
    def description(self) -> str:
        return self.request.description

    @property
    def price(self) -> str:
        return f"{self.request.amount / 100:.2f} {self.request.currency.upper()}"


class FakeProcessor(Adapter):
    name = "fake"
    #: Event type -> the fact it carries (the subscription side adds its own).
    fact_types: ClassVar[Mapping[str, type[Fact]]] = events.FACTS
    readers: ClassVar[Mapping[str, Reader]] = events.READERS

    def __init__(self, public_base_url: str, secret: str | None = None) -> None:
        self.base = public_base_url.rstrip("/")
        self.secret = secret or secrets.token_hex(32)
        self.sessions: dict[str, FakeSession] = {}
        self.by_purchase: dict[str, str] = {}
        self.lock = threading.Lock()

    # -- the Processor interface ---------------------------------------------------------

    def open_session(self, purchase_id: str, request: Purchase) -> Checkout:
        """A checkout page for a purchase, idempotent per purchase, like the real ones."""
        with self.lock:
            ref = self.by_purchase.get(purchase_id)
            if ref is None:
                ref = new_id("fk_cs")
                self.sessions[ref] = FakeSession(ref, request)
                self.by_purchase[purchase_id] = ref
        return Checkout(processor_ref=ref, url=f"{self.base}/fake-checkout/{ref}")

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        return self.open_session(request.payment_id, request)

    def retrieve_payment(self, processor_ref: str) -> PaymentSnapshot:
        found = self.session(processor_ref)
        if not isinstance(found.request, CheckoutRequest):
            raise ProcessorError("invalid_request", f"{processor_ref} is not a payment")
        return PaymentSnapshot(
            processor_ref=found.ref,
            status=found.status,
            amount=found.request.amount,
            currency=found.request.currency,
            processor_payment_id=found.payment_intent,
        )

    def capture(self, processor_ref: str) -> PaymentSnapshot:
        return self.retrieve_payment(processor_ref)

    def refund(self, request: RefundRequest) -> RefundResult:
        refund_id = stable_id("fk_re", request.refund_id)
        return RefundResult(processor_refund_id=refund_id, status="succeeded")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        events.verify(self.secret, body, headers)
        return self.event_from_payload(body)

    def event_from_payload(self, body: bytes) -> WebhookEvent:
        return events.parse(body)

    def recent_events(self, since: datetime) -> Iterator[bytes]:
        # The fake delivers in-process, through the inbox: it has nothing to catch up on.
        return iter(())

    def sync_product(self, item: CatalogItem) -> CatalogRef | None:
        if item.interval is not None:
            return None  # plans: the subscription side's
        return self.local_price(item)

    @staticmethod
    def local_price(item: CatalogItem) -> CatalogRef:
        """The fake's prices are local: made up from the item, no call."""
        return CatalogRef(
            product_id=f"fk_prod_{item.key}",
            price_id=f"fk_price_{item.key}_{item.amount}_{item.currency}",
            created=False,
        )

    # -- the hosted page's side ------------------------------------------------------------

    def session(self, ref: str) -> FakeSession:
        found = self.sessions.get(ref)
        if found is None:
            raise ProcessorError("invalid_request", f"no fake checkout {ref}")
        return found

    def complete(self, ref: str, outcome: Outcome) -> list[Delivery]:
        """The buyer's choice on the fake page, as signed events [(body, headers)]."""
        found = self.session(ref)
        request = found.request
        if not isinstance(request, CheckoutRequest):
            raise ProcessorError("invalid_request", f"{ref} is not a payment's checkout")
        ours = PaymentRef(payment_id=request.payment_id, processor_ref=ref)
        if outcome == "succeed":
            found.status = "succeeded"
            found.payment_intent = found.payment_intent or new_id("fk_pi")
            fact = PaymentObserved(
                ours,
                paid=True,
                processor_payment_id=found.payment_intent,
                livemode=False,
                amount=request.amount,
                currency=request.currency,
            )
        elif outcome == "decline":
            fact = PaymentObserved(
                ours, failure_code="generic_decline", failure_message="The card was declined."
            )
        else:
            fact = PaymentObserved(
                ours,
                failure_code="authentication_required",
                failure_message="The buyer did not complete authentication.",
            )
        return [self.event(fact)]

    def event(self, fact: Fact) -> Delivery:
        """A signed event carrying `fact`: (body, headers)."""
        return events.signed(self.secret, events.type_of(fact, self.fact_types), fact)


ADAPTER = FakeProcessor

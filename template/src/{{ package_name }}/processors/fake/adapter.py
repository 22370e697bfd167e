"""An offline processor for demos and tests, refused in production.

Its "hosted checkout" is a page of this service (`/fake-checkout/{ref}`) where you choose
what happens: the payment succeeds, is declined, or asks for authentication first. It
then delivers a signed event (`events.py`) through the same webhook inbox as the real
processors. Its state lives in memory: it is a stand-in, not a ledger.

Saved methods work the same way: a checkout that keeps the method, or a setup page, saves
a fake Visa ending 4242. Off-session charges answer by amount, as the processors' test
cards do by number: an amount ending in 402 is declined for insufficient funds, one
ending in 403 asks for authentication (completed on the fake page).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Literal, Protocol

from ...domain.facts import Fact, PaymentMethodObserved, PaymentObserved, PaymentRef
from ...ids import new_id, stable_id
from ..base import (
    Adapter,
    CaptureRequest,
    CatalogItem,
    CatalogRef,
    ChargeRequest,
    Checkout,
    CheckoutRequest,
    CustomerRequest,
    PaymentSnapshot,
    PaymentState,
    ProcessorError,
    Reader,
    RefundRequest,
    RefundResult,
    SetupRequest,
    WebhookEvent,
)
from . import events

Outcome = Literal["succeed", "decline", "authentication_failed"]
#: A signed delivery: (body, headers).
Delivery = tuple[bytes, dict[str, str]]
#: Off-session charges by the last three digits of their amount (any other succeeds).
DECLINED, AUTHENTICATE = 402, 403


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


@dataclass(frozen=True)
class SetupPage:
    """A setup page, as a purchase of nothing."""

    setup: SetupRequest
    description: str = "Save a card for later payments"
    amount: int = 0
    currency: str = "usd"

    @property
    def success_url(self) -> str:
        return self.setup.success_url

    @property
    def cancel_url(self) -> str:
        return self.setup.cancel_url


@dataclass(frozen=True)
class AuthenticationPage:
    """Where the customer authenticates an off-session charge their bank asked about."""

    charge: ChargeRequest
    intent: str

    @property
    def description(self) -> str:
        return self.charge.description

    @property
    def amount(self) -> int:
        return self.charge.amount

    @property
    def currency(self) -> str:
        return self.charge.currency

    @property
    def success_url(self) -> str:
        return self.charge.return_url

    @property
    def cancel_url(self) -> str:
        return self.charge.return_url


@dataclass
class FakeCharge:
    """An off-session charge: a payment object of the fake's."""

    ref: str
    request: ChargeRequest
    status: PaymentState
    #: What it holds (authorized) or received (succeeded).
    amount: int


@dataclass
class FakeSession:
    ref: str
    request: Purchase
    status: PaymentState = "pending"
    payment_intent: str | None = None
    #: What a promotion code takes off the request's amount.
    discount: int = 0

    @property
    def description(self) -> str:
        return self.request.description

    @property
    def price(self) -> str:
        return f"{(self.request.amount - self.discount) / 100:.2f} {self.request.currency.upper()}"


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
        #: Saved methods, by reference: (customer reference, shown card).
        self.methods: dict[str, tuple[str, PaymentMethodObserved]] = {}
        self.charges: dict[str, FakeCharge] = {}
        self.lock = threading.Lock()

    # -- the Processor interface ---------------------------------------------------------

    def open_session(self, purchase_id: str, request: Purchase, discount: int = 0) -> Checkout:
        """A checkout page for a purchase, idempotent per purchase, like the real ones."""
        with self.lock:
            ref = self.by_purchase.get(purchase_id)
            if ref is None:
                ref = new_id("fk_cs")
                self.sessions[ref] = FakeSession(ref, request, discount=discount)
                self.by_purchase[purchase_id] = ref
        return Checkout(processor_ref=ref, url=f"{self.base}/fake-checkout/{ref}")

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        return self.open_session(request.payment_id, request, request.discount)

    def retrieve_payment(self, processor_ref: str) -> PaymentSnapshot:
        charge = self.charges.get(processor_ref)
        if charge is not None:
            return self._charged(charge)
        found = self.session(processor_ref)
        if not isinstance(found.request, CheckoutRequest):
            raise ProcessorError("invalid_request", f"{processor_ref} is not a payment")
        return PaymentSnapshot(
            processor_ref=found.ref,
            status=found.status,
            amount=found.request.amount - found.discount,
            currency=found.request.currency,
            processor_payment_id=found.payment_intent,
            amount_discount=found.discount,
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
        """The fake's prices are local: made up from the item's terms, no call."""
        meter = f"_{item.meter}" if item.meter else ""
        return CatalogRef(
            product_id=f"fk_prod_{item.key}",
            price_id=f"fk_price_{item.key}_{item.amount}_{item.currency}{meter}",
            created=False,
        )

    # -- saved methods ---------------------------------------------------------------------

    def ensure_customer(self, request: CustomerRequest) -> str:
        return stable_id("fk_cus", request.customer_id)

    def create_setup(self, request: SetupRequest) -> Checkout:
        return self.open_session(request.setup_id, SetupPage(request))

    def charge_saved(self, request: ChargeRequest) -> PaymentSnapshot:
        saved = self.methods.get(request.processor_payment_method_id)
        if saved is None or saved[0] != request.processor_customer_id:
            raise ProcessorError("invalid_request", "no such saved method for this customer")
        ref = stable_id("fk_pi", request.payment_id)
        with self.lock:
            charge = self.charges.get(ref)  # the same payment again: the same answer
            if charge is None:
                outcome = request.amount % 1000
                if outcome == DECLINED:
                    raise ProcessorError(
                        "declined",
                        "The card has insufficient funds.",
                        decline_code="insufficient_funds",
                    )
                status: PaymentState = "authorized" if request.capture == "manual" else "succeeded"
                if outcome == AUTHENTICATE:
                    status = "requires_action"
                charge = FakeCharge(ref, request, status, request.amount)
                self.charges[ref] = charge
        return self._charged(charge)

    def _charged(self, charge: FakeCharge) -> PaymentSnapshot:
        action_url = None
        if charge.status == "requires_action":
            page = self.open_session(
                f"{charge.ref}:authenticate", AuthenticationPage(charge.request, charge.ref)
            )
            action_url = page.url
        return PaymentSnapshot(
            processor_ref=charge.ref,
            status=charge.status,
            amount=charge.amount,
            currency=charge.request.currency,
            processor_payment_id=charge.ref,
            action_url=action_url,
        )

    def _held(self, processor_payment_id: str) -> FakeCharge:
        charge = self.charges.get(processor_payment_id)
        if charge is None:
            raise ProcessorError("invalid_request", f"no fake charge {processor_payment_id}")
        return charge

    def capture_authorized(self, request: CaptureRequest) -> PaymentSnapshot:
        with self.lock:
            charge = self._held(request.processor_payment_id)
            if charge.status == "authorized":
                if request.amount > charge.amount:
                    raise ProcessorError("invalid_request", "cannot capture more than is held")
                charge.status, charge.amount = "succeeded", request.amount
            elif charge.status != "succeeded":
                raise ProcessorError("invalid_request", f"a {charge.status} charge holds nothing")
        return self._charged(charge)

    def cancel_authorized(self, payment_id: str, processor_payment_id: str) -> PaymentSnapshot:
        with self.lock:
            charge = self._held(processor_payment_id)
            if charge.status in ("authorized", "requires_action"):
                charge.status = "canceled"
            elif charge.status != "canceled":
                raise ProcessorError(
                    "invalid_request", f"a {charge.status} charge cannot be canceled"
                )
        return self._charged(charge)

    def detach_payment_method(self, processor_payment_method_id: str) -> None:
        with self.lock:
            self.methods.pop(processor_payment_method_id, None)

    def save_card(self, customer_ref: str) -> PaymentMethodObserved:
        """The customer saved the fake's test card (a Visa ending 4242)."""
        method = PaymentMethodObserved(
            processor_payment_method_id=new_id("fk_pm"),
            processor_customer_id=customer_ref,
            type="card",
            brand="visa",
            last4="4242",
            exp_month=12,
            exp_year=datetime.now(UTC).year + 3,
        )
        with self.lock:
            self.methods[method.processor_payment_method_id] = (customer_ref, method)
        return method

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
        if isinstance(request, SetupPage):
            if outcome != "succeed":
                return []
            return [self.event(self.save_card(request.setup.processor_customer_id))]
        if isinstance(request, AuthenticationPage):
            return self._authenticated(request, outcome)
        if not isinstance(request, CheckoutRequest):
            raise ProcessorError("invalid_request", f"{ref} is not a payment's checkout")
        ours = PaymentRef(payment_id=request.payment_id, processor_ref=ref)
        if outcome == "succeed":
            held = request.capture == "manual"
            found.status = "authorized" if held else "succeeded"
            found.payment_intent = found.payment_intent or new_id("fk_pi")
            if held:
                with self.lock:
                    self.charges[found.payment_intent] = FakeCharge(
                        found.payment_intent, charge_of(request), "authorized", request.amount
                    )
            fact = PaymentObserved(
                ours,
                paid=None if held else True,
                held=held,
                processor_payment_id=found.payment_intent,
                livemode=False,
                amount=request.amount - found.discount,
                currency=request.currency,
                amount_discount=found.discount,
            )
            saved = []
            if request.save_payment_method and request.processor_customer_id:
                saved = [self.event(self.save_card(request.processor_customer_id))]
            return [self.event(fact), *saved]
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

    def _authenticated(self, page: AuthenticationPage, outcome: Outcome) -> list[Delivery]:
        """The customer authenticated an off-session charge (or failed to)."""
        charge = self.charges[page.intent]
        ours = PaymentRef(payment_id=page.charge.payment_id, processor_payment_id=page.intent)
        if outcome != "succeed":
            fact = PaymentObserved(
                ours,
                failure_code="authentication_required",
                failure_message="The customer did not complete authentication.",
            )
            return [self.event(fact)]
        held = page.charge.capture == "manual"
        with self.lock:
            if charge.status == "requires_action":
                charge.status = "authorized" if held else "succeeded"
        fact = PaymentObserved(
            ours,
            paid=None if held else True,
            held=held,
            processor_payment_id=page.intent,
            livemode=False,
            amount=charge.amount,
            currency=page.charge.currency,
        )
        return [self.event(fact)]

    def event(self, fact: Fact) -> Delivery:
        """A signed event carrying `fact`: (body, headers)."""
        return events.signed(self.secret, events.type_of(fact, self.fact_types), fact)


def charge_of(request: CheckoutRequest) -> ChargeRequest:
    """A checkout held for a later capture, as the charge the fake keeps of it."""
    return ChargeRequest(
        payment_id=request.payment_id,
        processor_customer_id=request.processor_customer_id or "",
        processor_payment_method_id="",
        amount=request.amount,
        currency=request.currency,
        description=request.description,
        capture=request.capture,
        return_url=request.success_url,
    )


ADAPTER = FakeProcessor

"""One interface for every processor, and the neutral types it speaks.

Adapters translate between these types and a processor's SDK; they never touch the
database, and the domain never imports an SDK. A processor is one folder under
`processors/` (`adapter.py`: every call; `events.py`: its webhooks read into neutral facts;
`events.json`: the event types it handles, as data) and one line in `registry.py`. The
processors differ, and the interface says how:

- Stripe: a Checkout Session (hosted redirect, or embedded); the payment is final when
  the session completes.
- PayPal: an order the buyer approves; the server must then `capture` it.
- Square: a payment link that carries its own order id, which events refer to.
- Each verifies webhook signatures its own way, inside `parse_webhook`.

Subscriptions, where the service has them, are a second protocol of their own
(`processors/subscriptions.py`), implemented by a subclass of each adapter. Saved payment
methods (setup, off-session charges, capture and cancel of held amounts) are a third,
`SavedMethods` below, which an adapter implements where this version supports it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import import_module
from importlib.resources import files
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from ..domain.facts import Fact, PaymentMethodObserved, PaymentRef
from ..ids import stable_id
from ..metrics import meter

if TYPE_CHECKING:
    from ..config import ProcessorSettings, Settings

CheckoutMode = Literal["hosted", "embedded"]
PaymentState = Literal[
    "pending", "requires_action", "authorized", "succeeded", "failed", "canceled"
]
#: "manual": the processor holds the amount until it is captured (or canceled).
CaptureMethod = Literal["automatic", "manual"]
RefundState = Literal["pending", "succeeded", "failed", "canceled"]
ErrorKind = Literal[
    "declined", "rate_limited", "invalid_request", "authentication", "unavailable", "error"
]
Interval = Literal["day", "week", "month", "year"]
Duration = Literal["once", "repeating", "forever"]


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
    #: The customer at the processor (required to keep the method for later).
    processor_customer_id: str | None = None
    #: Keep the payment method for charges without the customer (off-session).
    save_payment_method: bool = False
    capture: CaptureMethod = "automatic"
    #: The processor's promotion code to apply (`sync_coupon` made it), or else whether
    #: the buyer may enter one on the processor's page.
    promotion_ref: str | None = None
    allow_promotion_codes: bool = False
    #: What this service took off `amount` for a promotion code, where it applies codes
    #: itself (`local_discounts`): the buyer pays `amount - discount`.
    discount: int = 0
    #: The processor computes the tax and adds it (TAX_MODE=processor).
    automatic_tax: bool = False


@dataclass(frozen=True)
class Coupon:
    """A catalog.yml coupon, and the promotion code buyers use for it."""

    key: str
    #: What the buyer types (letters, digits and dashes; case does not matter).
    code: str
    name: str
    #: One of the two: a whole percentage, or an amount in minor units of `currency`.
    percent_off: int | None
    amount_off: int | None
    currency: str | None
    #: How long it discounts a subscription (a one-time payment: once).
    duration: Duration
    duration_in_months: int | None
    max_redemptions: int | None
    redeem_by: datetime | None

    def discount_on(self, amount: int) -> int:
        """What it takes off `amount`, where this service computes it (a percentage is
        rounded half up), at most all of it."""
        off = (amount * self.percent_off + 50) // 100 if self.percent_off else self.amount_off
        return min(off or 0, amount)

    @property
    def terms(self) -> str:
        """What the discount is: a coupon whose terms change is a new coupon."""
        off = f"{self.percent_off}%" if self.percent_off else f"{self.amount_off} {self.currency}"
        until = self.redeem_by.isoformat() if self.redeem_by else "-"
        return f"{off} {self.duration} {self.duration_in_months} {self.max_redemptions} {until}"


@dataclass(frozen=True)
class CatalogItem:
    """A catalog.yml product or plan, to create or update at a processor."""

    key: str
    name: str
    description: str
    amount: int
    currency: str
    #: A plan's billing period (None: a one-time product).
    interval: Interval | None = None
    interval_count: int = 1
    #: Free days before the first charge (a plan's; PayPal keeps it in the plan itself).
    trial_days: int = 0
    #: A metered plan's meter: `amount` is then the price of one unit of usage.
    meter: str | None = None

    @property
    def kind(self) -> str:
        return "product" if self.interval is None else "plan"


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
    #: Square: the subscription the checkout created (known at once: linked at once).
    subscription_ref: str | None = None
    #: Where the processor computed the tax as it made the checkout (Square's order):
    #: what the buyer will pay, and the tax in it. The payment is for that from the start.
    amount: int | None = None
    amount_tax: int | None = None


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
    #: `requires_action`: where the customer authenticates (their bank's page).
    action_url: str | None = None
    #: What a promotion code took off (None: the processor does not say).
    amount_discount: int | None = None
    #: The tax the processor added (None: it does not say).
    amount_tax: int | None = None


@dataclass(frozen=True)
class CustomerRequest:
    """Our customer, to find or create at a processor (idempotent per `customer_id`)."""

    customer_id: str
    email: str | None


@dataclass(frozen=True)
class SetupRequest:
    """Collect a payment method to keep, without charging it; idempotent per `setup_id`."""

    setup_id: str
    customer_id: str
    processor_customer_id: str
    success_url: str
    cancel_url: str
    #: This service's page the processor returns the customer to where the service itself
    #: must complete the setup (PayPal), then sends them on to `success_url`.
    completion_url: str = ""


@dataclass(frozen=True)
class ChargeRequest:
    """Charge a saved method without the customer present; idempotent per `payment_id`."""

    payment_id: str
    processor_customer_id: str
    processor_payment_method_id: str
    amount: int
    currency: str
    description: str
    capture: CaptureMethod
    #: Where the customer comes back to after authenticating, if their bank asks them to.
    return_url: str


@dataclass(frozen=True)
class KeepRequest:
    """Keep the method a checkout was paid with, where the processor does not keep it
    during the checkout itself (Square: a card on file made from the payment)."""

    payment_id: str
    processor_payment_id: str
    processor_customer_id: str


@dataclass(frozen=True)
class CaptureRequest:
    """Capture what a manually captured payment holds: all of it, or less (`amount`)."""

    payment_id: str
    processor_payment_id: str
    amount: int
    currency: str
    #: Distinguishes one capture attempt from another in the processor's idempotency key.
    operation_id: str


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


#: Reads one event type of one processor into neutral facts (an empty list: nothing to do).
Reader = Callable[[WebhookEvent], list[Fact]]


def shown_card(kind: Any, brand: Any, last4: Any, exp_month: Any, exp_year: Any) -> dict[str, Any]:
    """What may be shown of a saved method, from a processor's payload, as
    `PaymentMethodObserved` fields: anything malformed is dropped, never stored."""

    def month_or_year(value: Any, low: int, high: int) -> int | None:
        whole = isinstance(value, int) and not isinstance(value, bool)
        return value if whole and low <= value <= high else None

    last_four = last4 if isinstance(last4, str) and len(last4) == 4 and last4.isdigit() else None
    return {
        "type": kind.lower()[:40] if isinstance(kind, str) and kind else None,
        "brand": brand.lower()[:40] if isinstance(brand, str) and brand else None,
        "last4": last_four if last_four and last_four.isascii() else None,
        "exp_month": month_or_year(exp_month, 1, 12),
        "exp_year": month_or_year(exp_year, 2000, 2200),
    }


def attempt_timeout(budget_s: float, retries: int) -> float:
    """Each attempt's timeout when a call and its SDK's `retries` share `budget_s` seconds
    (`PROCESSOR_TIMEOUT_SECONDS`)."""
    return budget_s / (retries + 1)


#: What a decline is called in answers and on payments, whichever processor declined:
#: each processor's own codes map to one of these (anything else is "declined").
DeclineCode = Literal[
    "declined",
    "insufficient_funds",
    "expired_card",
    "incorrect_card_data",
    "authentication_required",
    "payment_method_unusable",
    "try_again_later",
]


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
    @property
    def name(self) -> str: ...

    @property
    def capture_on_return(self) -> bool:
        """The buyer's return means "approved, capture now" (PayPal); elsewhere nothing."""
        ...

    @property
    def verifies_over_network(self) -> bool:
        """`parse_webhook` may call the network (PayPal's certificate): run it off the loop."""
        ...

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

    def handles(self, event_type: str) -> bool:
        """Whether this processor reads events of this type (the others are stored, ignored)."""
        ...

    def facts(self, event: WebhookEvent) -> list[Fact]:
        """What the event says, as neutral facts for the domain to apply."""
        ...

    def recent_events(self, since: datetime) -> Iterator[bytes]:
        """Events the processor sent since `since`, as stored payloads (for reconcile)."""
        ...

    def read_back(self, payment: PaymentRef) -> list[Fact]:
        """A paid payment's refunds and disputes as the processor holds them now, read as
        the facts its events would carry (`reconcile --object`; [] where there is nothing
        to read back)."""
        ...

    def sync_product(self, item: CatalogItem) -> CatalogRef | None:
        """Create or update a catalog item, never mutating a price (None: nothing to create
        there). Plans only where the service has subscriptions (the adapter's subclass)."""
        ...

    @property
    def computes_tax(self) -> bool:
        """The processor computes the tax of a checkout and adds it (TAX_MODE=processor;
        else that mode is refused here before any call)."""
        ...

    @property
    def local_discounts(self) -> bool:
        """This service applies codes itself: it computes the discount, counts redemptions
        and sends the order with the discount (else the processor keeps the coupons and
        codes, applies them, and lets the buyer type one on its page)."""
        ...

    def sync_coupon(self, coupon: Coupon) -> CatalogRef:
        """The coupon (`product_id`) and its promotion code (`price_id`) at the processor,
        made once per coupon terms: changed terms make a new coupon, and the code moves to
        it (`archived_price_id`: the code it replaces)."""
        ...


@runtime_checkable
class SavedMethods(Protocol):
    """Saved payment methods, where a processor's adapter supports them in this version.

    The method itself is collected by the processor (a hosted page) and reaches the service
    through the processor's events, as references and display data only (brand, last four,
    expiry): the service never sees a card number, so it stays out of PCI DSS scope beyond
    SAQ A.
    """

    @property
    def name(self) -> str: ...

    @property
    def manual_checkout(self) -> bool:
        """A checkout page may hold its amount for a later capture (else: charges only)."""
        ...

    @property
    def partial_capture(self) -> bool:
        """A capture may take less than was held (the rest released)."""
        ...

    @property
    def setup_page(self) -> bool:
        """The processor has a page to save a method without paying (else: a checkout
        keeps it, `save_payment_method`)."""
        ...

    def ensure_customer(self, request: CustomerRequest) -> str:
        """The processor's customer for ours, created once (idempotent per customer id)."""
        ...

    def read_back(self, payment: PaymentRef) -> list[Fact]:
        """Nothing beyond the payment itself (`Processor.read_back`)."""
        return []

    def keep_paid_method(self, request: KeepRequest) -> PaymentMethodObserved | None:
        """After a checkout that asked to keep its method was paid: what was kept, where
        the processor keeps it only when asked afterwards (None: the checkout kept it, and
        the processor's own event says so)."""
        ...

    def create_setup(self, request: SetupRequest) -> Checkout:
        """A hosted page where the customer saves a method without paying."""
        ...

    def complete_setup(self, approval: str) -> PaymentMethodObserved:
        """After the customer approved a setup the service must complete (PayPal's setup
        token, `approval`): the method kept."""
        ...

    def charge_saved(self, request: ChargeRequest) -> PaymentSnapshot:
        """Charge (or hold, `capture="manual"`) a saved method off-session. A decline raises
        ProcessorError("declined"); a bank that asks for authentication answers
        `requires_action` with the URL where the customer completes it."""
        ...

    def capture_authorized(self, request: CaptureRequest) -> PaymentSnapshot:
        """Capture a held payment (all or part of it); the rest is released."""
        ...

    def cancel_authorized(self, payment_id: str, processor_payment_id: str) -> PaymentSnapshot:
        """Release a held payment without capturing anything."""
        ...

    def detach_payment_method(self, processor_payment_method_id: str) -> None:
        """Forget a saved method at the processor (already forgotten: not an error)."""
        ...


class Adapter:
    """What every adapter shares: its readers, one per event type it handles.

    Events are dispatched by (processor, type): each adapter looks up its own readers, so
    two processors may both handle a `refund.updated`. A subclass (the subscription side)
    adds readers of its own.
    """

    name: ClassVar[str]
    capture_on_return: ClassVar[bool] = False
    verifies_over_network: ClassVar[bool] = False
    readers: ClassVar[Mapping[str, Reader]] = {}
    #: Saved methods: a checkout page may hold its amount, a capture may take less than
    #: was held, a setup page saves a method without paying (`SavedMethods`).
    manual_checkout: ClassVar[bool] = True
    partial_capture: ClassVar[bool] = True
    setup_page: ClassVar[bool] = True
    #: Subscriptions, where generated: a quantity above 1 is possible (seats), and plan
    #: changes are prorated as asked.
    seats: ClassVar[bool] = True
    prorates: ClassVar[bool] = True
    #: Usage of a metered plan can be reported (else its plans are refused at `catalog sync`).
    metered: ClassVar[bool] = False
    #: Promotion codes: this service applies them itself, unless the processor keeps
    #: them (`sync_coupon` then makes them there).
    local_discounts: ClassVar[bool] = True
    computes_tax: ClassVar[bool] = False

    def sync_coupon(self, coupon: Coupon) -> CatalogRef:
        """Codes this service applies itself (`local_discounts`): a reference made up from
        the coupon's terms, no call."""
        ref = stable_id(f"{self.name}_promo", f"{coupon.code}\0{coupon.terms}")
        return CatalogRef(f"{self.name}_coupon_{coupon.key}", ref, created=False)

    def read_back(self, payment: PaymentRef) -> list[Fact]:
        """Nothing beyond the payment itself (`Processor.read_back`)."""
        return []

    def keep_paid_method(self, request: KeepRequest) -> PaymentMethodObserved | None:
        """Saved methods: the checkout kept the method itself (`SavedMethods`)."""
        return None

    def complete_setup(self, approval: str) -> PaymentMethodObserved:
        """Saved methods: the processor completes its setups itself (`SavedMethods`)."""
        raise ProcessorError("invalid_request", f"{self.name} completes its setups itself")

    def handles(self, event_type: str) -> bool:
        return event_type in self.readers

    def facts(self, event: WebhookEvent) -> list[Fact]:
        reader = self.readers.get(event.type)
        return [] if reader is None else reader(event)


def declared_events(package: str) -> list[str]:
    """The event types a processor's folder declares as handled (`events.json`): data that
    the generation trace reads too; a test holds each adapter's readers to it."""
    declared: list[str] = json.loads(files(package).joinpath("events.json").read_text())
    return declared


def operations() -> frozenset[str]:
    """What an adapter does at its processor: the methods the protocols declare (those of
    subscriptions too, where the service has them)."""
    protocols: list[type[Any]] = [Processor, SavedMethods]
    if find_spec(f"{__package__}.subscriptions") is not None:
        protocols.append(import_module(f"{__package__}.subscriptions").SubscriptionProcessor)
    return frozenset(
        name
        for protocol in protocols
        for name, _ in inspect.getmembers(protocol, inspect.isfunction)
        if not name.startswith("_")
    )


@dataclass(frozen=True)
class ProcessorKind:
    """A processor as the registry knows it: its name, its variables, how to build it.

    The adapter's module (and with it the processor's SDK) is imported only when the
    processor is built, so that commands which build none (`migrate`, `check-config`) do
    not pay for every SDK.
    """

    name: str
    #: Builds the adapter from the configuration with the class `load()` returns, or gives
    #: None where the processor is not in use (`load` is then never called).
    build: Callable[[Settings, Callable[[], type[Any]]], Processor | None]
    #: The package of its folder (`events.json` is there).
    package: str
    #: Its own variables (`<NAME>_...`); the offline fake has none.
    settings: type[ProcessorSettings] | None = None
    #: The module of the package whose `ADAPTER` is built: `adapter`, or `subscriptions`
    #: (the adapter's subclass) where the service has subscriptions.
    part: str = "adapter"

    def adapter_class(self) -> type[Any]:
        adapter: type[Any] = import_module(f"{self.package}.{self.part}").ADAPTER
        return adapter

    def create(self, settings: Settings) -> Processor | None:
        """The adapter, its calls to the processor counted and timed (`metrics.meter`)."""
        adapter = self.build(settings, self.adapter_class)
        if adapter is not None:
            meter(self.name, adapter, operations())
        return adapter

    def built_from(self, part: str) -> ProcessorKind:
        return replace(self, part=part)

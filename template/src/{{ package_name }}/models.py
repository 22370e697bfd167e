"""The payment schema: processor-neutral, so a new processor never needs a schema change.

Money is an integer amount in minor units plus a lowercase ISO 4217 currency. Our ids are
opaque strings with a type prefix (`pay_...`); processor ids live in `processor_*` columns,
unique per processor. No column ever holds card data: only the processor's references and,
for display, a card's brand, last four digits and expiry (allowed by PCI DSS).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from . import limits
from .ids import new_id, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PAYMENT_STATUSES = (
    "pending",
    "requires_action",
    "authorized",
    "succeeded",
    "failed",
    "canceled",
    "refunded",
    "partially_refunded",
    "disputed",
)
CAPTURE_METHODS = ("automatic", "manual")
REFUND_STATUSES = ("pending", "succeeded", "failed", "canceled")
DISPUTE_STATUSES = ("needs_response", "under_review", "won", "lost", "closed")
SUBSCRIPTION_STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "unpaid",
    "paused",
    "canceled",
)
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
WEBHOOK_STATUSES = ("pending", "processing", "processed", "failed", "dead", "ignored")
IDEMPOTENCY_STATUSES = ("in_progress", "completed")
DELIVERY_STATUSES = ("pending", "delivered", "dead")
#: pending: not yet accepted by the processor (sent again by `reconcile`); reported;
#: refused (the processor said no, for good); unconfirmed: sent with no answer, and too
#: long ago to send again without risking a double count (see docs/subscriptions.md).
USAGE_STATUSES = ("pending", "reported", "refused", "unconfirmed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC, read back aware on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# An autoincrementing 64-bit key (SQLite only autoincrements INTEGER PRIMARY KEY).
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")


class Customer(Timestamps, Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(
        String(limits.ID), primary_key=True, default=lambda: new_id("cus")
    )
    #: The merchant's own id for this customer (their user id): who the customer is. An
    #: email is contact data, never identity (nothing finds a customer by it).
    external_id: Mapped[str | None] = mapped_column(String(limits.EXTERNAL_ID), unique=True)
    email: Mapped[str | None] = mapped_column(String(limits.EMAIL), index=True)
    name: Mapped[str | None] = mapped_column(String(limits.NAME))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class ProcessorCustomer(Base):
    """A customer's account at one processor: at most one per customer and processor."""

    __tablename__ = "processor_customers"
    __table_args__ = (
        UniqueConstraint("customer_id", "processor"),
        UniqueConstraint("processor", "processor_customer_id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    processor_customer_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentMethod(Timestamps, Base):
    """A saved payment method, by reference only: brand, last four and expiry for display."""

    __tablename__ = "payment_methods"
    __table_args__ = (UniqueConstraint("processor", "processor_payment_method_id"),)

    id: Mapped[str] = mapped_column(
        String(limits.ID), primary_key=True, default=lambda: new_id("pm")
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    processor_payment_method_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(40))
    brand: Mapped[str | None] = mapped_column(String(40))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None]
    exp_year: Mapped[int | None]
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class Payment(Timestamps, Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "amount_refunded >= 0 AND amount_refunded <= amount", name="amount_refunded_range"
        ),
        CheckConstraint("length(currency) = 3", name="currency_iso"),
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint(_in("capture_method", CAPTURE_METHODS), name="capture_method"),
        UniqueConstraint("processor", "processor_ref"),
        Index("ix_payments_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(
        String(limits.ID), primary_key=True, default=lambda: new_id("pay")
    )
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    #: The processor's checkout object (Stripe Checkout Session, PayPal order, Square order).
    processor_ref: Mapped[str | None] = mapped_column(String(255))
    #: The processor's payment object once known (PaymentIntent, capture, Square payment).
    processor_payment_id: Mapped[str | None] = mapped_column(String(255), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    description: Mapped[str | None] = mapped_column(String(limits.DESCRIPTION))
    #: The merchant's own reference (order number...), for reconciliation.
    reference: Mapped[str | None] = mapped_column(String(limits.REFERENCE), index=True)
    product_key: Mapped[str | None] = mapped_column(String(limits.CATALOG_KEY))
    checkout_url: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Version of the processor object last applied (its event time), so order never matters.
    processor_updated_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    #: "manual": the processor holds the amount (`authorized`) until it is captured or
    #: canceled; a capture may take less (`amount` becomes what was captured).
    capture_method: Mapped[str] = mapped_column(
        String(10), default="automatic", server_default="automatic"
    )
    #: What the processor held for a manually captured payment.
    amount_authorized: Mapped[int | None] = mapped_column(BigInteger)
    #: The saved method an off-session charge used.
    payment_method_id: Mapped[str | None] = mapped_column(
        ForeignKey("payment_methods.id", ondelete="SET NULL")
    )
    #: The processor's receipt page for the buyer (Stripe, Square), once paid.
    receipt_url: Mapped[str | None] = mapped_column(Text)
    #: The promotion code given with the checkout (upper case), if one was.
    promotion_code: Mapped[str | None] = mapped_column(String(64))
    #: What a promotion code took off `amount` (the payment is then for `amount`, the
    #: list price less this). None: no code could apply; 0: one may, none has yet.
    amount_discount: Mapped[int | None] = mapped_column(BigInteger)
    #: The tax the processor added (TAX_MODE=processor; `amount` includes it). None: no
    #: tax could be added; 0: it may be, none has been yet.
    amount_tax: Mapped[int | None] = mapped_column(BigInteger)


class PaymentEvent(Base):
    """Append-only history of a payment: every state change, with its processor reference."""

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    payment_id: Mapped[str] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    #: Indexed: the metrics count the amount mismatches (metrics.py).
    type: Mapped[str] = mapped_column(String(60), index=True)
    status_from: Mapped[str | None] = mapped_column(String(20))
    status_to: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    processor_event_id: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Refund(Timestamps, Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_in("status", REFUND_STATUSES), name="status"),
        UniqueConstraint("processor", "processor_refund_id"),
    )

    id: Mapped[str] = mapped_column(
        String(limits.ID), primary_key=True, default=lambda: new_id("re")
    )
    payment_id: Mapped[str] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    processor_refund_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str | None] = mapped_column(String(limits.REFUND_REASON))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    processor_updated_at: Mapped[datetime | None]


class Dispute(Timestamps, Base):
    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint(_in("status", DISPUTE_STATUSES), name="status"),
        UniqueConstraint("processor", "processor_dispute_id"),
    )

    id: Mapped[str] = mapped_column(
        String(limits.ID), primary_key=True, default=lambda: new_id("dp")
    )
    payment_id: Mapped[str | None] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    processor_dispute_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(100))
    evidence_due_by: Mapped[datetime | None]
    processor_updated_at: Mapped[datetime | None]


class CatalogPrice(Base):
    """A catalog product or plan as created at a processor by `catalog sync`."""

    __tablename__ = "catalog_prices"
    __table_args__ = (
        UniqueConstraint("processor", "processor_price_id"),
        Index("ix_catalog_prices_lookup", "processor", "kind", "key", "active"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    kind: Mapped[str] = mapped_column(String(10))  # product | plan
    key: Mapped[str] = mapped_column(String(100))
    processor_product_id: Mapped[str] = mapped_column(String(255))
    processor_price_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str | None] = mapped_column(String(10))
    interval_count: Mapped[int | None]
    #: A metered plan's meter (its price bills usage reported under it).
    meter: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogCoupon(Base):
    """A catalog coupon's promotion code as made at a processor by `catalog sync`."""

    __tablename__ = "catalog_coupons"
    __table_args__ = (UniqueConstraint("processor", "processor_code_id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    key: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(64))
    #: The coupon's terms when it was made (`Coupon.terms`): other terms, another coupon.
    terms: Mapped[str] = mapped_column(String(200))
    processor_coupon_id: Mapped[str] = mapped_column(String(255))
    processor_code_id: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Timestamps, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(_in("status", SUBSCRIPTION_STATUSES), name="status"),
        UniqueConstraint("processor", "processor_subscription_id"),
        Index("ix_subscriptions_customer_id_status", "customer_id", "status"),
    )

    id: Mapped[str] = mapped_column(
        String(limits.ID), primary_key=True, default=lambda: new_id("sub")
    )
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    processor_subscription_id: Mapped[str | None] = mapped_column(String(255))
    plan: Mapped[str] = mapped_column(String(limits.CATALOG_KEY))
    quantity: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="incomplete")
    current_period_start: Mapped[datetime | None]
    current_period_end: Mapped[datetime | None]
    trial_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: When it last became past_due: access continues for a grace period from then.
    past_due_since: Mapped[datetime | None]
    #: A pause the processor has scheduled, and when a paused subscription resumes by itself.
    pauses_at: Mapped[datetime | None]
    resumes_at: Mapped[datetime | None]
    checkout_url: Mapped[str | None] = mapped_column(Text)
    processor_updated_at: Mapped[datetime | None]
    #: The promotion code given when it was started (upper case), if one was.
    promotion_code: Mapped[str | None] = mapped_column(String(64))


class UsageRecord(Timestamps, Base):
    """Usage of a metered subscription, kept before it is reported to the processor (the
    record's id is the processor's identifier for it, so a report sent twice counts once)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(_in("status", USAGE_STATUSES), name="status"),
        Index("ix_usage_records_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(limits.ID), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column(BigInteger)
    #: When the usage happened (the merchant's timestamp, or when it was reported to us).
    occurred_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    #: When it was first sent: the processor forgets identifiers after a while.
    first_sent_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class Invoice(Timestamps, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("amount_due >= 0 AND amount_paid >= 0", name="amounts_nonnegative"),
        CheckConstraint(_in("status", INVOICE_STATUSES), name="status"),
        UniqueConstraint("processor", "processor_invoice_id"),
    )

    id: Mapped[str] = mapped_column(
        String(limits.ID), primary_key=True, default=lambda: new_id("in")
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), index=True
    )
    subscription_id: Mapped[str | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True
    )
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    processor_invoice_id: Mapped[str] = mapped_column(String(255))
    number: Mapped[str | None] = mapped_column(String(100))
    amount_due: Mapped[int] = mapped_column(BigInteger)
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The tax on it, where the processor computed one (TAX_MODE=processor).
    amount_tax: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    #: The processor's PDF of the invoice (Stripe).
    invoice_pdf: Mapped[str | None] = mapped_column(Text)
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_payment_attempt: Mapped[datetime | None]
    #: The last payment attempt needs the customer to authenticate (SCA), at the hosted URL.
    requires_action: Mapped[bool] = mapped_column(Boolean, default=False)
    processor_updated_at: Mapped[datetime | None]


class WebhookEvent(Base):
    """The webhook inbox: every verified delivery, stored before it is processed."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("processor", "event_id"),
        CheckConstraint(_in("status", WEBHOOK_STATUSES), name="status"),
        Index("ix_webhook_events_status_next_attempt_at", "status", "next_attempt_at"),
        # Each processor's last event processed, read by the metrics and `status`.
        Index("ix_webhook_events_processor_processed_at", "processor", "processed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    processor: Mapped[str] = mapped_column(String(limits.PROCESSOR))
    event_id: Mapped[str] = mapped_column(String(limits.EVENT_ID))
    type: Mapped[str] = mapped_column(String(limits.EVENT_TYPE))
    livemode: Mapped[bool | None] = mapped_column(Boolean)
    #: The raw body exactly as received and verified.
    payload: Mapped[str] = mapped_column(Text)
    #: When the processor created the event (for ordering), if it says.
    event_created_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Later deliveries of this event id whose event differed (another type, time or
    #: object): acknowledged, logged and counted here, never applied.
    conflicting_deliveries: Mapped[int] = mapped_column(default=0, server_default="0")


class IdempotencyKey(Base):
    """A client's Idempotency-Key: the request it was first used with and the stored response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint(_in("status", IDEMPOTENCY_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    #: What the key is unique within: the method and route template.
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(limits.IDEMPOTENCY_KEY))
    #: SHA-256 of the canonical request body.
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="in_progress")
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class MerchantEvent(Base):
    """The outbox: one merchant-facing event per state change, written in the transaction
    that made the change (`domain/events.py`), delivered by `outbound/`."""

    __tablename__ = "merchant_events"
    __table_args__ = (Index("ix_merchant_events_object", "object_type", "object_id"),)

    id: Mapped[str] = mapped_column(
        String(limits.ID), primary_key=True, default=lambda: new_id("evt")
    )
    #: The order in which the events became visible (assigned after commit, by
    #: `outbound.publish`): `GET /api/events?after=` pages by it, never missing one that
    #: committed late. None until published.
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    type: Mapped[str] = mapped_column(String(60))
    #: payment | refund | dispute | subscription | invoice | entitlements
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(limits.ID))
    #: The object as `GET /api/...` shows it, as JSON.
    data: Mapped[str] = mapped_column(Text)
    #: The processor event that caused it (None: an API call).
    processor_event_id: Mapped[str | None] = mapped_column(String(limits.EVENT_ID))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MerchantDelivery(Base):
    """One event for one destination (a `MERCHANT_WEBHOOK_URL`, or "hooks": the merchant's
    `hooks.py`), with its attempts: delivered, retried with backoff, or dead."""

    __tablename__ = "merchant_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint"),
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        Index("ix_merchant_deliveries_due", "status", "next_attempt_at"),
        Index("ix_merchant_deliveries_lane", "lane", "position"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("merchant_events.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(2048))
    #: The event's position, and its lane: one object's events for one destination (a
    #: digest of both), which reach it in order.
    position: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    #: When it may be tried next; while an attempt is in flight, when its lease ends.
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Stripe, through the official SDK's StripeClient (stripe 16).

Every mutating call carries an idempotency key derived from our own operation
(`<payment id>:checkout`, `<refund id>:refund`, ...), so a retry after a timeout, ours or
the SDK's, never creates a second session or refund. The SDK retries connection errors,
409, 429 and 5xx itself, `max_network_retries` times, with the same key.

Saved methods: a Checkout Session keeps the method (`setup_future_usage=off_session`) or
only collects it (`mode=setup`); an off-session charge is a PaymentIntent confirmed at once
with `off_session=true`. When the bank asks for authentication, Stripe refuses the
off-session attempt (`authentication_required`); the same PaymentIntent is then confirmed
for the customer to complete on-session, and Stripe answers with the page where they do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

import stripe

from ...domain.facts import Fact, PaymentObserved, PaymentRef
from ..base import (
    Adapter,
    CaptureRequest,
    CatalogItem,
    CatalogRef,
    ChargeRequest,
    Checkout,
    CheckoutRequest,
    Coupon,
    CustomerRequest,
    PaymentSnapshot,
    PaymentState,
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
from .catalog import sync_coupon, sync_price
from .errors import neutral_decline, stripe_errors

if TYPE_CHECKING:
    # The SDK's types of each call's parameters (for its pinned API version): mypy holds
    # every request this adapter builds to them.
    from stripe.params import (
        EventListParams,
        PaymentIntentCreateParams,
        RefundCreateParams,
    )
    from stripe.params.checkout import SessionCreateParams, SessionCreateParamsPaymentIntentData

#: Stripe accepts only these refund reasons; others go to metadata.
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}
#: A PaymentIntent's status, as a payment's.
INTENT_STATES: dict[str, PaymentState] = {
    "succeeded": "succeeded",
    "requires_capture": "authorized",
    "requires_action": "requires_action",
    "canceled": "canceled",
    "requires_payment_method": "failed",
}


def intent_snapshot(
    intent: stripe.PaymentIntent, processor_ref: str | None = None
) -> PaymentSnapshot:
    """A PaymentIntent as a payment: what it received once paid, what it holds once
    authorized, and where the customer authenticates when the bank asks."""
    status = INTENT_STATES.get(intent.status, "pending")
    amount = intent.amount
    if status == "succeeded":
        amount = intent.amount_received
    elif status == "authorized":
        amount = intent.amount_capturable
    action = intent.next_action
    redirect = getattr(action, "redirect_to_url", None) if action is not None else None
    error = intent.last_payment_error
    return PaymentSnapshot(
        processor_ref=processor_ref or intent.id,
        status=status,
        amount=amount,
        currency=intent.currency,
        processor_payment_id=intent.id,
        livemode=bool(intent.livemode),
        failure_code=neutral_decline(error.decline_code or error.code) if error else None,
        failure_message=error.message if error else None,
        action_url=getattr(redirect, "url", None),
    )


class StripeProcessor(Adapter):
    name = "stripe"
    readers: ClassVar[Mapping[str, Reader]] = events.READERS
    #: Stripe keeps the coupons and codes (`sync_coupon`) and applies them.
    local_discounts: ClassVar[bool] = False
    #: Stripe Tax computes and adds the tax (TAX_MODE=processor).
    computes_tax: ClassVar[bool] = True

    def __init__(
        self,
        secret_key: str,
        webhook_secrets: list[str],
        api_base: str | None = None,
        max_network_retries: int = 2,
        budget_s: float = 20.0,
    ) -> None:
        self.webhook_secrets = webhook_secrets
        attempt = attempt_timeout(budget_s, max_network_retries)
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=(min(5.0, attempt), attempt)),
        )

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        metadata = {**request.metadata, "payment_id": request.payment_id}
        intent: SessionCreateParamsPaymentIntentData = {"metadata": metadata}
        if request.save_payment_method:
            intent["setup_future_usage"] = "off_session"
        if request.capture == "manual":
            intent["capture_method"] = "manual"
        params: SessionCreateParams = {
            "mode": "payment",
            "client_reference_id": request.payment_id,
            "metadata": metadata,
            "payment_intent_data": intent,
        }
        if request.price_ref:
            params["line_items"] = [{"quantity": 1, "price": request.price_ref}]
        else:
            params["line_items"] = [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency,
                        "unit_amount": request.amount,
                        "product_data": {"name": request.description},
                    },
                }
            ]
        if request.mode == "embedded":
            params["ui_mode"] = "embedded_page"
            params["return_url"] = request.success_url
        else:
            params["success_url"] = request.success_url
            params["cancel_url"] = request.cancel_url
        if request.processor_customer_id:
            params["customer"] = request.processor_customer_id
        elif request.customer_email:
            params["customer_email"] = request.customer_email
        if request.promotion_ref:
            params["discounts"] = [{"promotion_code": request.promotion_ref}]
        elif request.allow_promotion_codes:
            params["allow_promotion_codes"] = True
        if request.automatic_tax:
            params["automatic_tax"] = {"enabled": True}
            if request.processor_customer_id:
                # Stripe Tax needs the address: the one the buyer enters is kept.
                params["customer_update"] = {"address": "auto"}
        with stripe_errors():
            session = self.client.v1.checkout.sessions.create(
                params,
                options={"idempotency_key": f"{request.payment_id}:checkout"},
            )
        return Checkout(
            processor_ref=session.id, url=session.url, client_secret=session.client_secret
        )

    def retrieve_payment(self, processor_ref: str) -> PaymentSnapshot:
        if processor_ref.startswith("pi_"):  # an off-session charge: its PaymentIntent
            with stripe_errors():
                return intent_snapshot(self.client.v1.payment_intents.retrieve(processor_ref))
        with stripe_errors():
            session = self.client.v1.checkout.sessions.retrieve(
                processor_ref, {"expand": ["payment_intent"]}
            )
        intent = session.payment_intent
        totals = session.total_details
        discount = totals.amount_discount if totals is not None else None
        tax = totals.amount_tax if totals is not None else None
        if session.status == "complete" and isinstance(intent, stripe.PaymentIntent):
            # Held, or paid: the intent says; the session says what a promotion code took.
            snapshot = intent_snapshot(intent, session.id)
            return replace(snapshot, amount_discount=discount, amount_tax=tax)
        status: PaymentState = "pending"
        if session.status == "expired":
            status = "canceled"
        elif session.status == "complete" and session.payment_status in (
            "paid",
            "no_payment_required",
        ):
            status = "succeeded"
        return PaymentSnapshot(
            processor_ref=session.id,
            status=status,
            amount=session.amount_total or 0,
            currency=session.currency or "",
            processor_payment_id=intent if isinstance(intent, str) else getattr(intent, "id", None),
            livemode=bool(session.livemode),
            amount_discount=discount,
            amount_tax=tax,
        )

    def read_back(self, payment: PaymentRef) -> list[Fact]:
        """The PaymentIntent's refunds and disputes, read as their events are: what is
        refunded (refunds not failed or canceled, as a charge's `amount_refunded` counts
        them), each refund's outcome, each dispute's state as of now."""
        intent = payment.processor_payment_id
        if not intent:
            return []
        with stripe_errors():
            listed = self.client.v1.refunds.list({"payment_intent": intent, "limit": 100})
            refunds = list(listed.auto_paging_iter())
            listed_disputes = self.client.v1.disputes.list({"payment_intent": intent})
            disputes = list(listed_disputes.auto_paging_iter())
        now = datetime.now(UTC)

        def read(kind: str, obj: stripe.StripeObject) -> WebhookEvent:
            return WebhookEvent(self.name, "resync", kind, None, now, obj.to_dict(for_json=True))

        facts: list[Fact] = []
        refunded = sum(r.amount for r in refunds if r.status not in ("failed", "canceled"))
        if refunded:
            facts.append(PaymentObserved(payment, paid=True, refunded=refunded))
        for refund in refunds:
            facts += events.refund_updated(read("refund.updated", refund))
        for dispute in disputes:
            facts += events.dispute(read("charge.dispute.updated", dispute))
        return facts

    def capture(self, processor_ref: str) -> PaymentSnapshot:
        # Checkout Sessions capture automatically.
        return self.retrieve_payment(processor_ref)

    def refund(self, request: RefundRequest) -> RefundResult:
        metadata = {"refund_id": request.refund_id}
        params: RefundCreateParams = {
            "payment_intent": request.processor_payment_id,
            "amount": request.amount,
            "metadata": metadata,
        }
        if request.reason in REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:
            metadata["reason"] = request.reason[:500]
        with stripe_errors():
            refund = self.client.v1.refunds.create(
                params,
                options={"idempotency_key": f"{request.refund_id}:refund"},
            )
        status: RefundState = "pending"
        if refund.status in ("succeeded", "failed", "canceled"):
            status = refund.status  # type: ignore[assignment]
        return RefundResult(processor_refund_id=refund.id, status=status)

    # -- saved methods -------------------------------------------------------------------

    def ensure_customer(self, request: CustomerRequest) -> str:
        with stripe_errors():
            customer = self.client.v1.customers.create(
                {
                    "metadata": {"customer_id": request.customer_id},
                    **({"email": request.email} if request.email else {}),
                },
                options={"idempotency_key": f"{request.customer_id}:customer"},
            )
        return customer.id

    def create_setup(self, request: SetupRequest) -> Checkout:
        metadata = {"customer_id": request.customer_id, "setup_id": request.setup_id}
        with stripe_errors():
            session = self.client.v1.checkout.sessions.create(
                {
                    "mode": "setup",
                    "customer": request.processor_customer_id,
                    "allowed_payment_method_types": ["card"],
                    "client_reference_id": request.setup_id,
                    "success_url": request.success_url,
                    "cancel_url": request.cancel_url,
                    "metadata": metadata,
                    "setup_intent_data": {"metadata": metadata},
                },
                options={"idempotency_key": f"{request.setup_id}:setup"},
            )
        return Checkout(processor_ref=session.id, url=session.url)

    def charge_saved(self, request: ChargeRequest) -> PaymentSnapshot:
        params: PaymentIntentCreateParams = {
            "amount": request.amount,
            "currency": request.currency,
            "customer": request.processor_customer_id,
            "payment_method": request.processor_payment_method_id,
            "description": request.description,
            "off_session": True,
            "confirm": True,
            "capture_method": request.capture,
            "return_url": request.return_url,
            "metadata": {"payment_id": request.payment_id},
        }
        intents = self.client.v1.payment_intents
        with stripe_errors():
            try:
                intent = intents.create(
                    params, options={"idempotency_key": f"{request.payment_id}:charge"}
                )
            except stripe.CardError as exc:
                pending = exc.error.payment_intent if exc.error else None
                if exc.code != "authentication_required" or pending is None:
                    raise
                # The customer must authenticate: confirm on-session, for them to finish.
                intent = intents.confirm(
                    pending.id,
                    {
                        "payment_method": request.processor_payment_method_id,
                        "return_url": request.return_url,
                    },
                    options={"idempotency_key": f"{request.payment_id}:authenticate"},
                )
        return intent_snapshot(intent)

    def capture_authorized(self, request: CaptureRequest) -> PaymentSnapshot:
        with stripe_errors():
            intent = self.client.v1.payment_intents.capture(
                request.processor_payment_id,
                {"amount_to_capture": request.amount},
                options={"idempotency_key": f"{request.payment_id}:capture:{request.operation_id}"},
            )
        return intent_snapshot(intent)

    def cancel_authorized(self, payment_id: str, processor_payment_id: str) -> PaymentSnapshot:
        with stripe_errors():
            intent = self.client.v1.payment_intents.cancel(
                processor_payment_id, options={"idempotency_key": f"{payment_id}:cancel"}
            )
        return intent_snapshot(intent)

    def detach_payment_method(self, processor_payment_method_id: str) -> None:
        methods = self.client.v1.payment_methods
        with stripe_errors():
            try:
                methods.detach(processor_payment_method_id)
            except stripe.InvalidRequestError:
                # Detached already (Stripe refuses a second detach): fine; else it stands.
                if methods.retrieve(processor_payment_method_id).customer is not None:
                    raise

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        events.verify(body, headers, self.webhook_secrets)
        try:
            return self.event_from_payload(body)
        except (ValueError, KeyError, TypeError):
            raise WebhookVerificationError("the body is not a Stripe event") from None

    def event_from_payload(self, body: bytes) -> WebhookEvent:
        return events.parse(body)

    def recent_events(self, since: datetime) -> Iterator[bytes]:
        """Stripe's events list (it keeps 30 days), oldest pages last, as JSON payloads."""
        params: EventListParams = {"created": {"gte": int(since.timestamp())}, "limit": 100}
        with stripe_errors():
            for event in self.client.v1.events.list(params).auto_paging_iter():
                # for_json: `*_decimal` fields (Decimal in the SDK) as the strings Stripe sent.
                yield json.dumps(event.to_dict(for_json=True)).encode()

    def sync_product(self, item: CatalogItem) -> CatalogRef | None:
        """A one-time product's price (plans: the subscription side's)."""
        return None if item.interval is not None else sync_price(self.client, item)

    def sync_coupon(self, coupon: Coupon) -> CatalogRef:
        return sync_coupon(self.client, coupon)


ADAPTER = StripeProcessor

"""Stripe, through the official SDK's StripeClient (stripe 16).

Every mutating call carries an idempotency key derived from our own operation
(`<payment id>:checkout`, `<refund id>:refund`, ...), so a retry after a timeout, ours or
the SDK's, never creates a second session or refund. The SDK retries connection errors,
409, 429 and 5xx itself, `max_network_retries` times, with the same key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

import stripe

from ..base import (
    Adapter,
    CatalogItem,
    CatalogRef,
    Checkout,
    CheckoutRequest,
    PaymentSnapshot,
    PaymentState,
    Reader,
    RefundRequest,
    RefundResult,
    RefundState,
    WebhookEvent,
    WebhookVerificationError,
    attempt_timeout,
)
from . import events
from .catalog import sync_price
from .errors import stripe_errors

if TYPE_CHECKING:
    # The SDK's types of each call's parameters (for its pinned API version): mypy holds
    # every request this adapter builds to them.
    from stripe.params import EventListParams, RefundCreateParams
    from stripe.params.checkout import SessionCreateParams

#: Stripe accepts only these refund reasons; others go to metadata.
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


class StripeProcessor(Adapter):
    name = "stripe"
    readers: ClassVar[Mapping[str, Reader]] = events.READERS

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
        params: SessionCreateParams = {
            "mode": "payment",
            "client_reference_id": request.payment_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
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
        if request.customer_email:
            params["customer_email"] = request.customer_email
        with stripe_errors():
            session = self.client.v1.checkout.sessions.create(
                params,
                options={"idempotency_key": f"{request.payment_id}:checkout"},
            )
        return Checkout(
            processor_ref=session.id, url=session.url, client_secret=session.client_secret
        )

    def retrieve_payment(self, processor_ref: str) -> PaymentSnapshot:
        with stripe_errors():
            session = self.client.v1.checkout.sessions.retrieve(processor_ref)
        status: PaymentState = "pending"
        if session.status == "expired":
            status = "canceled"
        elif session.status == "complete" and session.payment_status in (
            "paid",
            "no_payment_required",
        ):
            status = "succeeded"
        intent = session.payment_intent
        return PaymentSnapshot(
            processor_ref=session.id,
            status=status,
            amount=session.amount_total or 0,
            currency=session.currency or "",
            processor_payment_id=intent if isinstance(intent, str) else getattr(intent, "id", None),
            livemode=bool(session.livemode),
        )

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


ADAPTER = StripeProcessor

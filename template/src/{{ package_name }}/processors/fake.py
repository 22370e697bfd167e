"""An offline processor for demos and tests, refused in production.

Its "hosted checkout" is a page of this service (`/fake-checkout/{ref}`) where you choose
what happens: the payment succeeds, is declined, or asks for authentication first. It
then delivers a signed event, shaped like Stripe's, through the same webhook inbox as the
real processors. Its state lives in memory: it is a stand-in, not a ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .base import (
    CatalogItem,
    CatalogRef,
    Checkout,
    CheckoutRequest,
    PaymentSnapshot,
    PaymentState,
    ProcessorError,
    RefundRequest,
    RefundResult,
    WebhookEvent,
    WebhookVerificationError,
    stripe_shaped_event,
)

SIGNATURE_HEADER = "fake-signature"
TOLERANCE_S = 300
Outcome = Literal["succeed", "decline", "authentication_failed"]


@dataclass
class FakeSession:
    ref: str
    request: CheckoutRequest
    status: PaymentState = "pending"
    payment_intent: str | None = None


class FakeProcessor:
    name = "fake"

    def __init__(self, public_base_url: str, secret: str | None = None) -> None:
        self.base = public_base_url.rstrip("/")
        self.secret = secret or secrets.token_hex(32)
        self.sessions: dict[str, FakeSession] = {}
        self.by_payment: dict[str, str] = {}
        self.lock = threading.Lock()

    # -- the Processor interface ---------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        with self.lock:
            ref = self.by_payment.get(request.payment_id)
            if ref is None:  # idempotent per payment, like the real ones
                ref = f"fk_cs_{secrets.token_hex(12)}"
                self.sessions[ref] = FakeSession(ref, request)
                self.by_payment[request.payment_id] = ref
        return Checkout(processor_ref=ref, url=f"{self.base}/fake-checkout/{ref}")

    def retrieve_payment(self, processor_ref: str) -> PaymentSnapshot:
        found = self.session(processor_ref)
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
        digest = hashlib.sha256(request.refund_id.encode()).hexdigest()[:24]
        return RefundResult(processor_refund_id=f"fk_re_{digest}", status="succeeded")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        header = headers.get(SIGNATURE_HEADER, "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            timestamp = int(parts["t"])
        except (KeyError, ValueError):
            raise WebhookVerificationError("missing or malformed signature") from None
        expected = self._sign(timestamp, body)
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise WebhookVerificationError("the signature does not match")
        if abs(time.time() - timestamp) > TOLERANCE_S:
            raise WebhookVerificationError("the signature is too old or in the future")
        return self.event_from_payload(body)

    def event_from_payload(self, body: bytes) -> WebhookEvent:
        return stripe_shaped_event(self.name, body)

    def recent_events(self, since: datetime) -> Iterator[bytes]:
        # The fake delivers in-process, through the inbox: it has nothing to catch up on.
        return iter(())

    def sync_product(self, item: CatalogItem) -> CatalogRef:
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

    def complete(self, ref: str, outcome: Outcome) -> tuple[bytes, dict[str, str]]:
        """The buyer's choice on the fake page, as a signed event (body, headers)."""
        found = self.session(ref)
        request = found.request
        if outcome == "succeed":
            found.status = "succeeded"
            found.payment_intent = found.payment_intent or f"fk_pi_{secrets.token_hex(12)}"
            event_type = "checkout.session.completed"
            data: dict[str, Any] = {
                "id": ref,
                "object": "checkout.session",
                "client_reference_id": request.payment_id,
                "payment_status": "paid",
                "status": "complete",
                "payment_intent": found.payment_intent,
                "amount_total": request.amount,
                "currency": request.currency,
            }
        else:
            code = "card_declined" if outcome == "decline" else "authentication_required"
            event_type = "payment_intent.payment_failed"
            data = {
                "id": f"fk_pi_{secrets.token_hex(12)}",
                "object": "payment_intent",
                "metadata": {"payment_id": request.payment_id},
                "last_payment_error": {
                    "code": code,
                    "decline_code": "generic_decline" if outcome == "decline" else None,
                    "message": "The card was declined."
                    if outcome == "decline"
                    else "The buyer did not complete authentication.",
                },
            }
        created = int(time.time())
        body = json.dumps(
            {
                "id": f"fk_evt_{secrets.token_hex(12)}",
                "object": "event",
                "type": event_type,
                "created": created,
                "livemode": False,
                "data": {"object": data},
            }
        ).encode()
        return body, {SIGNATURE_HEADER: f"t={created},v1={self._sign(created, body)}"}

    def _sign(self, timestamp: int, body: bytes) -> str:
        message = str(timestamp).encode() + b"." + body
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()

"""A local fake of Stripe's API: records every request the real SDK sends, answers like Stripe.

Like Stripe, it answers a repeated Idempotency-Key with the first response. It keeps
customers and subscriptions (API 2025-03-31 and later: billing periods on the items). `plan` scripts
the next answers: "drop" (close the connection without answering), "lost" (do it, then
close the connection without answering), "500", "429", "decline"; anything else, or an
empty plan, answers normally.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import re
import secrets
import string
import threading
import time
import typing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from stripe import StripeObject
from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import UntypedStripeObject

from tests.conftest import ADAPTER_CALLS, CALLS_RECEIVED

#: The calls Stripe's adapter makes, as `METHOD /path` (`tests/conftest.py` checks each is
#: made).
ADAPTER_CALLS["stripe"] = {
    "POST /v1/checkout/sessions": "payments",
    "GET /v1/checkout/sessions/{id}": "payments",
    "POST /v1/refunds": "payments",
    "GET /v1/refunds": "payments",
    "GET /v1/disputes": "payments",
    "GET /v1/events": "payments",
    "GET /v1/prices": "payments",
    "POST /v1/prices": "payments",
    "POST /v1/prices/{id}": "payments",
    "GET /v1/products/{id}": "payments",
    "POST /v1/products": "payments",
    "GET /v1/coupons/{id}": "payments",
    "POST /v1/coupons": "payments",
    "GET /v1/promotion_codes": "payments",
    "POST /v1/promotion_codes": "payments",
    "POST /v1/promotion_codes/{id}": "payments",
    "POST /v1/customers": "payments",
    "POST /v1/payment_intents": "payments",
    "GET /v1/payment_intents/{id}": "payments",
    "POST /v1/payment_intents/{id}/confirm": "payments",
    "POST /v1/payment_intents/{id}/capture": "payments",
    "POST /v1/payment_intents/{id}/cancel": "payments",
    "POST /v1/payment_methods/{id}/detach": "payments",
    "GET /v1/payment_methods/{id}": "payments",
    "POST /v1/billing_portal/sessions": "subscriptions",
    "GET /v1/subscriptions/{id}": "subscriptions",
    "POST /v1/subscriptions/{id}": "subscriptions",
    "DELETE /v1/subscriptions/{id}": "subscriptions",
    "GET /v1/billing/meters": "subscriptions",
    "POST /v1/billing/meters": "subscriptions",
    "POST /v1/billing/meter_events": "subscriptions",
}


def invalid(message: str) -> dict[str, Any]:
    """Stripe's answer to a request it refuses (HTTP 400)."""
    return {"error": {"type": "invalid_request_error", "message": message}}


def stripe_token(length: int) -> str:
    """Random letters and digits, as Stripe's ids are made of (a hex id now and then holds
    a run of 13 digits, which the card-data guard refuses in a URL as a card number)."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def operation_of(method: str, path: str) -> str:
    """The call a request is, as `ADAPTER_CALLS` names it."""
    for call in ADAPTER_CALLS["stripe"]:
        verb, template = call.split(" ")
        if verb == method and re.fullmatch(template.replace("{id}", "[^/]+"), path):
            return call
    return f"{method} {path}"


#: Stripe's own example object of each resource (`spec/README.md`).
FIXTURES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "spec" / "fixtures3.json").read_text(encoding="utf-8")
)["resources"]


def fixture(resource: str, **changes: Any) -> dict[str, Any]:
    """Stripe's example `resource` object, with `changes` on top."""
    return {**copy.deepcopy(FIXTURES[resource]), **changes}


def metadata_of(form: dict[str, str], prefix: str = "metadata[") -> dict[str, str]:
    """The metadata a form-encoded request sets (`metadata[key]=value`)."""
    return {k[len(prefix) : -1]: v for k, v in form.items() if k.startswith(prefix)}


@functools.cache
def stripe_class(kind: str) -> type[StripeObject] | None:
    """The SDK's class of a Stripe resource (`object`), typed for the SDK's API version."""
    found = OBJECT_CLASSES.get(kind)
    if found is None:
        return None
    module, name = found
    resource: type[StripeObject] = getattr(importlib.import_module(module), name)
    return resource


def unknown_fields(value: Any, where: str = "") -> list[str]:
    """The fields of the Stripe objects in `value` that the SDK's types of their resource
    (Stripe's API, the version the SDK pins) do not have, as `resource.path.field`."""
    if isinstance(value, list):
        return [f for item in value for f in unknown_fields(item, where)]
    if not isinstance(value, dict) or not isinstance(value.get("object"), str):
        return []
    kind = value["object"]
    if kind == "list":
        return unknown_fields(value.get("data"), where)
    resource = stripe_class(kind)
    if resource is None:
        return [f"{where}{kind}: Stripe has no such resource"]
    return _unknown_in(value, resource, f"{where}{kind}")


def _fields(cls: type) -> dict[str, Any]:
    """The typed fields of an SDK class (its bases' too)."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        found.update(getattr(klass, "__annotations__", {}))
    return found


def _nested(hint: Any) -> type[StripeObject] | None:
    """The SDK class a field's type names (through Optional, List, Union), or None for a
    free-form hash (metadata) or a plain value."""
    if typing.get_origin(hint) is UntypedStripeObject or hint is UntypedStripeObject:
        return None
    if isinstance(hint, type) and issubclass(hint, StripeObject):
        return hint
    for arg in typing.get_args(hint):
        found = _nested(arg)
        if found is not None:
            return found
    return None


def _unknown_in(value: dict[str, Any], cls: type[StripeObject], where: str) -> list[str]:
    fields = _fields(cls)
    found = []
    for key, field in value.items():
        if key not in fields:
            found.append(f"{where}.{key}")
            continue
        items = field if isinstance(field, list) else [field]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("object"), str):
                found += unknown_fields(item, f"{where}.{key}: ")
            elif isinstance(item, dict) and (nested := _nested(fields[key])) is not None:
                found += _unknown_in(item, nested, f"{where}.{key}")
    return found


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    idempotency_key: str | None


class FakeStripe:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.plan: list[str] = []
        self.delay = 0.0
        self.sessions: dict[str, dict[str, Any]] = {}
        #: What a subscription session was asked for (price, quantity, trial days, metadata):
        #: Stripe keeps it in the session's line items and `subscription_data`.
        self.session_terms: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        #: What GET /v1/events lists (newest first, as Stripe does).
        self.events: list[dict[str, Any]] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        #: Disputes a test opens (Stripe opens them when a cardholder does).
        self.disputes: dict[str, dict[str, Any]] = {}
        #: What a new refund's status is (card refunds succeed at once; some methods later).
        self.refund_status = "succeeded"
        self.subscriptions: dict[str, dict[str, Any]] = {}
        #: Billing meters, and the meter events Stripe kept (by identifier: Stripe drops an
        #: event whose identifier it has seen).
        self.meters: dict[str, dict[str, Any]] = {}
        #: Coupons and their promotion codes (a code is unique among the active ones).
        self.coupons: dict[str, dict[str, Any]] = {}
        #: Stripe Tax: set up in the dashboard (else a session asking for it is refused), and
        #: the rate it finds for the buyer's address.
        self.tax_registered = True
        self.tax_rate = 10
        self.promotion_codes: dict[str, dict[str, Any]] = {}
        self.meter_events: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, tuple[int, dict[str, Any]]] = {}
        #: PaymentIntents (off-session charges, and held checkouts) and saved methods.
        self.intents: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        #: How a saved method's charges go, as Stripe's test cards do: "succeed",
        #: "insufficient_funds" (declined), "authentication_required".
        self.card_outcome: dict[str, str] = {}
        #: Fields the fake answered with that Stripe's objects do not have (`unknown_fields`).
        self.invented: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                query = self.path.partition("?")[2]
                fake.handle(self, "GET", {k: v[-1] for k, v in parse_qs(query).items()})

            def do_DELETE(self) -> None:
                query = self.path.partition("?")[2]
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length).decode() or query
                fake.handle(self, "DELETE", {k: v[-1] for k, v in parse_qs(raw).items()})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length).decode()
                form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                fake.handle(self, "POST", form)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def session_total(self, form: dict[str, str]) -> dict[str, Any]:
        """What Stripe computes for a payment session: its one line's price times quantity."""
        price = self.prices.get(form.get("line_items[0][price]", ""))
        if price is not None:
            unit, currency = int(price["unit_amount"]), str(price["currency"])
        else:
            unit = int(form["line_items[0][price_data][unit_amount]"])
            currency = form["line_items[0][price_data][currency]"]
        quantity = int(form.get("line_items[0][quantity]", "1"))
        subtotal = unit * quantity
        discount = self.discount(form.get("discounts[0][promotion_code]"), subtotal)
        taxed = form.get("automatic_tax[enabled]") == "true"
        tax = self.tax_on(subtotal - discount) if taxed else 0
        return {
            "amount_subtotal": subtotal,
            "amount_total": subtotal - discount + tax,
            "currency": currency,
            "total_details": {"amount_discount": discount, "amount_shipping": 0, "amount_tax": tax},
        }

    def tax_on(self, amount: int) -> int:
        """Stripe Tax, for the buyer's address (here: a flat `tax_rate`, tax exclusive)."""
        return int(amount * self.tax_rate / 100 + 0.5)

    def redeemable(self, promotion_code: str) -> dict[str, Any] | None:
        """The coupon of an active promotion code, if it may still be redeemed."""
        code = self.promotion_codes.get(promotion_code)
        coupon = self.coupons.get(str((code or {}).get("promotion", {}).get("coupon")))
        if code is None or coupon is None or not code["active"] or not coupon["valid"]:
            return None
        limit = coupon["max_redemptions"]
        if limit is not None and coupon["times_redeemed"] >= limit:
            return None
        return coupon

    def discount(self, promotion_code: str | None, subtotal: int) -> int:
        """What Stripe takes off a subtotal for a promotion code (percentages rounded)."""
        coupon = self.redeemable(promotion_code) if promotion_code else None
        if coupon is None:
            return 0
        if coupon["percent_off"] is not None:
            return min(subtotal, int(subtotal * coupon["percent_off"] / 100 + 0.5))
        return min(subtotal, int(coupon["amount_off"]))

    def enter_code(self, session_id: str, code: str) -> None:
        """The buyer types a promotion code on Stripe's page (allowed by the session)."""
        session = self.sessions[session_id]
        assert session["allow_promotion_codes"], "this session takes no code"
        (found,) = [
            c["id"] for c in self.promotion_codes.values() if c["code"] == code and c["active"]
        ]
        subtotal = session["amount_subtotal"]
        discount = self.discount(found, subtotal)
        tax = self.tax_on(subtotal - discount) if session["automatic_tax"]["enabled"] else 0
        session["amount_total"] = subtotal - discount + tax
        session["total_details"] = {
            **session["total_details"],
            "amount_discount": discount,
            "amount_tax": tax,
        }
        session["discounts"] = [{"coupon": None, "promotion_code": found}]

    def complete(self, session_id: str) -> str:
        """The buyer paid: the session completes and gets a PaymentIntent."""
        session = self.sessions[session_id]
        session.update(
            status="complete", payment_status="paid", payment_intent=f"pi_{stripe_token(16)}"
        )
        return str(session["payment_intent"])

    def attach(
        self, customer: str, outcome: str = "succeed", last4: str = "4242"
    ) -> dict[str, Any]:
        """The customer saved a card at Stripe (a hosted page): its PaymentMethod, attached."""
        method = fixture(
            "payment_method",
            id=f"pm_{stripe_token(24)}",
            customer=customer,
            created=int(time.time()),
            livemode=False,
            metadata={},
        )
        method["card"] = {**method["card"], "last4": last4, "exp_month": 4, "exp_year": 2031}
        self.payment_methods[str(method["id"])] = method
        self.card_outcome[str(method["id"])] = outcome
        return method

    def new_intent(self, form: dict[str, str], **changes: Any) -> dict[str, Any]:
        """A PaymentIntent as Stripe makes it: its example, with what was asked."""
        intent_id = f"pi_{stripe_token(24)}"
        asked = {
            "id": intent_id,
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "customer": form.get("customer"),
            "payment_method": form.get("payment_method"),
            "description": form.get("description"),
            "capture_method": form.get("capture_method", "automatic_async"),
            "client_secret": f"{intent_id}_secret_{stripe_token(16)}",
            "created": int(time.time()),
            "canceled_at": None,
            "last_payment_error": None,
            "next_action": None,
            "processing": None,
            "transfer_data": None,
            "livemode": False,
            "metadata": metadata_of(form),
        }
        intent = fixture("payment_intent", **{**asked, **changes})
        self.intents[intent_id] = intent
        return intent

    def authorize(self, session_id: str) -> dict[str, Any]:
        """The buyer approved a checkout that holds its amount (manual capture): the session
        completes unpaid; its PaymentIntent holds the amount."""
        session = self.sessions[session_id]
        form = {"amount": str(session["amount_total"]), "currency": str(session["currency"])}
        intent = self.new_intent(
            form,
            capture_method="manual",
            status="requires_capture",
            amount_capturable=session["amount_total"],
            metadata=dict(session["metadata"]),
        )
        session.update(status="complete", payment_status="unpaid", payment_intent=intent["id"])
        return intent

    def subscribe(self, session_id: str, status: str | None = None) -> dict[str, Any]:
        """The buyer completed a subscription checkout: Stripe creates the subscription."""
        session, terms = self.sessions[session_id], self.session_terms[session_id]
        trial_days = int(terms["trial_days"])
        now = int(time.time())
        end = now + (trial_days or 30) * 86400
        price = self.prices.get(terms["price"]) or {"id": terms["price"]}
        subscription_id = f"sub_{stripe_token(16)}"
        item = fixture(
            "subscription_item",
            id=f"si_{stripe_token(16)}",
            subscription=subscription_id,
            created=now,
            price=price,
            quantity=int(terms["quantity"] or 1),
            current_period_start=now,
            current_period_end=end,
            metadata={},
            discounts=[],
            tax_rates=[],
            billing_thresholds=None,
        )
        item.pop("plan")  # the legacy twin of `price`
        items = {
            "object": "list",
            "data": [item],
            "has_more": False,
            "url": "/v1/subscription_items",
        }
        subscription = fixture(
            "subscription",
            id=subscription_id,
            status=status or ("trialing" if trial_days else "active"),
            customer=session["customer"],
            items=items,
            created=now,
            start_date=now,
            billing_cycle_anchor=end,
            trial_start=now if trial_days else None,
            trial_end=end if trial_days else None,
            cancel_at_period_end=False,
            cancel_at=None,
            canceled_at=None,
            ended_at=None,
            next_pending_invoice_item_invoice=None,
            pause_collection=None,
            pending_update=None,
            livemode=False,
            metadata=dict(terms["metadata"]),
        )
        session.update(status="complete", payment_status="paid", subscription=subscription["id"])
        self.subscriptions[subscription["id"]] = subscription
        return subscription

    def handle(self, handler: BaseHTTPRequestHandler, method: str, form: dict[str, str]) -> None:
        key = handler.headers.get("idempotency-key")
        path = handler.path.split("?")[0]
        with self.lock:
            self.requests.append(Recorded(method, path, form, key))
            CALLS_RECEIVED.add(("stripe", operation_of(method, path)))
            step = self.plan.pop(0) if self.plan else "ok"
        time.sleep(self.delay)
        if step == "drop":
            handler.close_connection = True
            handler.connection.close()
            return
        with self.lock:
            if key and key in self.by_key:
                status, body = self.by_key[key]
            else:
                status, body = self.answer(step, method, path, form)
                if key and method == "POST" and status < 500:
                    self.by_key[key] = (status, body)
        if step == "lost":  # done at Stripe, but the answer never arrives
            handler.close_connection = True
            handler.connection.close()
            return
        if status < 400:
            invented = unknown_fields(body)
            with self.lock:
                self.invented += invented
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        handler.send_header("request-id", f"req_{stripe_token(12)}")
        handler.end_headers()
        handler.wfile.write(payload)

    def answer(
        self, step: str, method: str, path: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if step == "500":
            return 500, {"error": {"type": "api_error", "message": "An unknown error occurred"}}
        if step == "429":
            return 429, {"error": {"type": "invalid_request_error", "code": "rate_limit"}}
        if step == "decline":
            return 402, {
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                }
            }
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = f"cs_test_{stripe_token(24)}"
            promotion = form.get("discounts[0][promotion_code]")
            if promotion and "allow_promotion_codes" in form:
                return 400, invalid(
                    "You may only specify one of these parameters: allow_promotion_codes, "
                    "discounts."
                )
            if form.get("automatic_tax[enabled]") == "true" and not self.tax_registered:
                return 400, invalid(
                    "Stripe Tax has not been activated on your account. Please visit "
                    "https://dashboard.stripe.com/settings/tax/activate to get started."
                )
            if promotion and self.redeemable(promotion) is None:
                return 400, invalid("This promotion code cannot be redeemed.")
            if promotion:
                self.coupons[str(self.promotion_codes[promotion]["promotion"]["coupon"])][
                    "times_redeemed"
                ] += 1
            if form.get("mode") == "subscription":
                return self.subscription_session(session_id, form)
            if form.get("mode") == "setup":
                session = self.new_session(
                    session_id,
                    form,
                    mode="setup",
                    url=f"https://checkout.stripe.test/c/setup/{session_id}",
                    ui_mode="hosted_page",
                    amount_total=None,
                    currency=None,
                    client_secret=None,
                    customer=form["customer"],
                    subscription=None,
                    setup_intent=f"seti_{stripe_token(24)}",
                )
                self.sessions[session_id] = session
                return 200, session
            embedded = form.get("ui_mode") == "embedded_page"
            session = self.new_session(
                session_id,
                form,
                mode="payment",
                url=None if embedded else f"https://checkout.stripe.test/c/pay/{session_id}",
                ui_mode=form.get("ui_mode", "hosted_page"),
                **self.session_total(form),
                client_secret=f"{session_id}_secret_{stripe_token(16)}" if embedded else None,
                customer=form.get("customer"),
                subscription=None,
            )
            self.sessions[session_id] = session
            return 200, session
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            found = self.sessions.get(path.rsplit("/", 1)[1])
            if found is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "message": "No such session"}
                }
            expand = {v for k, v in form.items() if k.startswith("expand[")}
            intent = self.intents.get(str(found.get("payment_intent")))
            if "payment_intent" in expand and intent is not None:
                return 200, {**found, "payment_intent": intent}
            return 200, found
        if method == "GET" and path == "/v1/events":
            since = int(form.get("created[gte]", "0"))
            listed = [e for e in self.events if e["created"] >= since]
            return 200, {"object": "list", "data": listed, "has_more": False, "url": path}
        if method == "GET" and path == "/v1/prices":
            wanted = {v for k, v in form.items() if k.startswith("lookup_keys[")}
            listed = [
                p
                for p in self.prices.values()
                if p["lookup_key"] in wanted and (form.get("active") != "true" or p["active"])
            ]
            return 200, {"object": "list", "data": listed, "has_more": False, "url": path}
        if path.startswith(("/v1/coupons", "/v1/promotion_codes")):
            return self.promotions(method, path, form)
        if method == "GET" and path.startswith("/v1/products/"):
            product = self.products.get(path.rsplit("/", 1)[1])
            if product is None:
                error = {"type": "invalid_request_error", "code": "resource_missing"}
                return 404, {"error": {**error, "message": "No such product"}}
            return 200, product
        if method == "POST" and path == "/v1/products":
            product = fixture(
                "product",
                id=form["id"],
                name=form["name"],
                description=form.get("description") or None,
                created=int(time.time()),
                updated=int(time.time()),
                default_price=None,
                images=[],
                marketing_features=[],
                metadata={},
                package_dimensions=None,
            )
            self.products[form["id"]] = product
            return 200, product
        if method == "POST" and path == "/v1/prices":
            if form.get("transfer_lookup_key") == "true":
                for other in self.prices.values():
                    if other["lookup_key"] == form["lookup_key"]:
                        other["lookup_key"] = None
            recurring = (
                {
                    **FIXTURES["price"]["recurring"],
                    "interval": form["recurring[interval]"],
                    "interval_count": int(form["recurring[interval_count]"]),
                    "usage_type": form.get("recurring[usage_type]", "licensed"),
                    "meter": form.get("recurring[meter]"),
                }
                if "recurring[interval]" in form
                else None
            )
            if recurring and (recurring["usage_type"] == "metered") != bool(recurring["meter"]):
                return 400, invalid("a metered price needs a meter, and only it")
            if recurring and recurring["meter"] and recurring["meter"] not in self.meters:
                return 400, invalid(f"No such billing meter: '{recurring['meter']}'")
            price = fixture(
                "price",
                id=f"price_{stripe_token(16)}",
                product=form["product"],
                unit_amount=int(form["unit_amount"]),
                unit_amount_decimal=form["unit_amount"],
                currency=form["currency"],
                lookup_key=form["lookup_key"],
                active=True,
                created=int(time.time()),
                recurring=recurring,
                type="recurring" if recurring else "one_time",
                custom_unit_amount=None,
                transform_quantity=None,
                metadata=metadata_of(form),
            )
            self.prices[str(price["id"])] = price
            return 200, price
        if method == "POST" and path.startswith("/v1/prices/"):
            updated = self.prices[path.rsplit("/", 1)[1]]
            updated["active"] = form.get("active", "true") == "true"
            return 200, updated
        if method == "GET" and path in ("/v1/refunds", "/v1/disputes"):
            kept = self.refunds if path == "/v1/refunds" else self.disputes
            listed = [o for o in kept.values() if o["payment_intent"] == form.get("payment_intent")]
            return 200, {"object": "list", "data": listed, "has_more": False, "url": path}
        if method == "POST" and path == "/v1/refunds":
            refund = fixture(
                "refund",
                id=f"re_{stripe_token(24)}",
                status=self.refund_status,
                amount=int(form["amount"]),
                currency=next(
                    (
                        str(paid["currency"])
                        for paid in self.sessions.values()
                        if paid.get("payment_intent") == form["payment_intent"]
                    ),
                    "usd",  # a payment made outside this fake (the dashboard's)
                ),
                charge=f"ch_{stripe_token(24)}",
                created=int(time.time()),
                payment_intent=form["payment_intent"],
                reason=form.get("reason"),
                metadata=metadata_of(form),
            )
            self.refunds[str(refund["id"])] = refund
            return 200, refund
        if path.startswith(("/v1/payment_intents", "/v1/payment_methods")):
            return self.saved(method, path, form)
        return self.billing(method, path, form)

    def promotions(
        self, method: str, path: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Coupons and promotion codes, as Stripe answers them."""
        now = int(time.time())
        if method == "GET" and path.startswith("/v1/coupons/"):
            coupon = self.coupons.get(path.rsplit("/", 1)[1])
            if coupon is None:
                error = {"type": "invalid_request_error", "code": "resource_missing"}
                return 404, {"error": {**error, "message": "No such coupon"}}
            return 200, coupon
        if method == "POST" and path == "/v1/coupons":
            if form["id"] in self.coupons:
                return 400, invalid("Coupon already exists.")
            if ("percent_off" in form) == ("amount_off" in form):
                return 400, invalid("Give one of percent_off, amount_off.")
            if (form.get("duration") == "repeating") != ("duration_in_months" in form):
                return 400, invalid("duration_in_months goes with a repeating duration.")
            coupon = fixture(
                "coupon",
                id=form["id"],
                name=form.get("name"),
                percent_off=float(form["percent_off"]) if "percent_off" in form else None,
                amount_off=int(form["amount_off"]) if "amount_off" in form else None,
                currency=form.get("currency"),
                duration=form.get("duration", "once"),
                duration_in_months=int(form["duration_in_months"])
                if "duration_in_months" in form
                else None,
                max_redemptions=int(form["max_redemptions"]) if "max_redemptions" in form else None,
                redeem_by=int(form["redeem_by"]) if "redeem_by" in form else None,
                created=now,
                metadata=metadata_of(form),
            )
            self.coupons[form["id"]] = coupon
            return 200, coupon
        if method == "GET" and path == "/v1/promotion_codes":
            active = {"true": True, "false": False}.get(form.get("active", ""))
            listed = [
                c
                for c in self.promotion_codes.values()
                if c["code"].upper() == form.get("code", c["code"]).upper()
                and (active is None or c["active"] == active)
            ]
            return 200, {"object": "list", "data": listed, "has_more": False, "url": path}
        if method == "POST" and path == "/v1/promotion_codes":
            coupon_id = form["promotion[coupon]"]
            if form.get("promotion[type]") != "coupon" or coupon_id not in self.coupons:
                return 400, invalid(f"No such coupon: '{coupon_id}'")
            taken = [
                c
                for c in self.promotion_codes.values()
                if c["active"] and c["code"].upper() == form["code"].upper()
            ]
            if taken:
                return 400, invalid("An active promotion code with `code` already exists.")
            code = fixture(
                "promotion_code",
                id=f"promo_{stripe_token(24)}",
                code=form["code"],
                active=True,
                created=now,
                expires_at=None,
                promotion={"type": "coupon", "coupon": coupon_id},
                metadata=metadata_of(form),
            )
            self.promotion_codes[str(code["id"])] = code
            return 200, code
        if method == "POST" and path.startswith("/v1/promotion_codes/"):
            code = self.promotion_codes[path.rsplit("/", 1)[1]]
            code["active"] = form.get("active", "true") == "true"
            return 200, code
        return 404, invalid(f"No route {path}")

    def saved(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Off-session charges of saved methods, captures, cancels and detaches, as Stripe
        answers them."""
        missing = {"type": "invalid_request_error", "code": "resource_missing"}
        if method == "POST" and path == "/v1/payment_intents":
            outcome = self.card_outcome.get(form.get("payment_method", ""))
            wanted = self.payment_methods.get(form.get("payment_method", ""))
            if wanted is None or wanted["customer"] != form.get("customer"):
                return 400, {"error": {**missing, "message": "No such PaymentMethod"}}
            if outcome in ("insufficient_funds", "authentication_required"):
                code = "card_declined" if outcome == "insufficient_funds" else outcome
                error = {"type": "card_error", "code": code, "decline_code": outcome}
                intent = self.new_intent(
                    form,
                    status="requires_payment_method",
                    amount_capturable=0,
                    amount_received=0,
                    last_payment_error={**error, "message": "Your card was declined."},
                )
                message = (
                    "Your card has insufficient funds."
                    if outcome == "insufficient_funds"
                    else "This payment requires authentication."
                )
                return 402, {"error": {**error, "message": message, "payment_intent": intent}}
            manual = form.get("capture_method") == "manual"
            amount = int(form["amount"])
            intent = self.new_intent(
                form,
                status="requires_capture" if manual else "succeeded",
                amount_capturable=amount if manual else 0,
                amount_received=0 if manual else amount,
                latest_charge=f"ch_{stripe_token(24)}",
            )
            return 200, intent
        parts = path.split("/")  # ["", "v1", kind, id, action?]
        if parts[2] == "payment_methods":
            pm = self.payment_methods.get(parts[3])
            if pm is None:
                return 404, {"error": {**missing, "message": "No such PaymentMethod"}}
            if method == "POST" and parts[4:] == ["detach"]:
                if pm["customer"] is None:
                    message = "The payment method you provided is not attached to a customer"
                    return 400, {"error": {"type": "invalid_request_error", "message": message}}
                pm["customer"] = None
            return 200, pm
        found = self.intents.get(parts[3])
        if found is None:
            return 404, {"error": {**missing, "message": "No such payment_intent"}}
        action = parts[4] if len(parts) > 4 else None
        state = {"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}
        if action == "confirm":
            redirect = {
                "url": f"https://hooks.stripe.test/3d_secure_2/hosted?intent={found['id']}",
                "return_url": form["return_url"],
            }
            found.update(
                status="requires_action",
                last_payment_error=None,
                next_action={"type": "redirect_to_url", "redirect_to_url": redirect},
            )
        elif action == "capture":
            amount = int(form.get("amount_to_capture", found["amount_capturable"]))
            if found["status"] != "requires_capture" or amount > found["amount_capturable"]:
                message = f"This PaymentIntent could not be captured: status {found['status']}"
                return 400, {"error": {**state, "message": message}}
            found.update(status="succeeded", amount_received=amount, amount_capturable=0)
        elif action == "cancel":
            if found["status"] in ("succeeded", "canceled"):
                message = f"You cannot cancel this PaymentIntent: status {found['status']}"
                return 400, {"error": {**state, "message": message}}
            found.update(
                status="canceled",
                canceled_at=int(time.time()),
                cancellation_reason="requested_by_customer",
                amount_capturable=0,
            )
        return 200, found

    @staticmethod
    def new_session(session_id: str, form: dict[str, str], **changes: Any) -> dict[str, Any]:
        """A Checkout Session as Stripe makes it: its example, with what was asked."""
        return fixture(
            "checkout.session",
            id=session_id,
            status="open",
            payment_status="unpaid",
            created=int(time.time()),
            expires_at=int(time.time()) + 86400,
            client_reference_id=form.get("client_reference_id"),
            customer_email=form.get("customer_email"),
            success_url=form.get("success_url"),
            cancel_url=form.get("cancel_url"),
            payment_intent=None,
            livemode=False,
            metadata=metadata_of(form),
            allow_promotion_codes=form.get("allow_promotion_codes") == "true",
            automatic_tax={
                **FIXTURES["checkout.session"]["automatic_tax"],
                "enabled": form.get("automatic_tax[enabled]") == "true",
                "status": "complete" if form.get("automatic_tax[enabled]") == "true" else None,
            },
            discounts=[{"coupon": None, "promotion_code": form["discounts[0][promotion_code]"]}]
            if "discounts[0][promotion_code]" in form
            else [],
            **{
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                **changes,
            },
        )

    def metered(self, price_id: str) -> bool:
        recurring = (self.prices.get(price_id) or {}).get("recurring") or {}
        return recurring.get("usage_type") == "metered"

    def subscription_session(
        self, session_id: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        price = form["line_items[0][price]"]
        if self.metered(price) == ("line_items[0][quantity]" in form):
            # Stripe: a metered price takes no quantity; any other price needs one.
            return 400, invalid("Quantity should not be specified where usage_type is `metered`")
        session = self.new_session(
            session_id,
            form,
            mode="subscription",
            url=f"https://checkout.stripe.test/c/pay/{session_id}",
            ui_mode="hosted_page",
            amount_total=None,
            currency=None,
            client_secret=None,
            customer=form["customer"],
            subscription=None,
        )
        self.session_terms[session_id] = {
            "price": price,
            "quantity": form.get("line_items[0][quantity]"),
            "trial_days": form.get("subscription_data[trial_period_days]", "0"),
            "metadata": metadata_of(form, "subscription_data[metadata]["),
        }
        self.sessions[session_id] = session
        return 200, session

    def billing(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Customers, subscriptions and the billing portal."""
        if method == "POST" and path == "/v1/customers":
            customer_id = f"cus_{stripe_token(16)}"
            customer = fixture(
                "customer",
                id=customer_id,
                email=form.get("email"),
                created=int(time.time()),
                address=None,
                discount=None,
                shipping=None,
                metadata={},
            )
            self.customers[customer_id] = customer
            return 200, customer
        if method == "POST" and path == "/v1/billing_portal/sessions":
            if form.get("customer") not in self.customers:
                error = {"type": "invalid_request_error", "message": "No such customer"}
                return 404, {"error": error}
            session_id = f"bps_{stripe_token(16)}"
            return 200, fixture(
                "billing_portal.session",
                id=session_id,
                customer=form["customer"],
                url=f"https://billing.stripe.test/p/session/{session_id}",
                return_url=form.get("return_url"),
                created=int(time.time()),
                livemode=False,
                flow=None,
            )
        if path.startswith("/v1/billing/"):
            return self.metering(method, path, form)
        if path.startswith("/v1/subscriptions/"):
            subscription = self.subscriptions.get(path.rsplit("/", 1)[1])
            if subscription is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "message": "No such subscription"}
                }
            if method == "POST":
                self.update_subscription(subscription, form)
            elif method == "DELETE":
                now = int(time.time())
                subscription.update(status="canceled", canceled_at=now, ended_at=now)
            return 200, subscription
        return 404, {"error": {"type": "invalid_request_error", "message": f"No route {path}"}}

    def metering(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Billing meters and their events, as Stripe answers them."""
        now = int(time.time())
        if method == "GET" and path == "/v1/billing/meters":
            listed = [
                m for m in self.meters.values() if m["status"] == form.get("status", "active")
            ]
            return 200, {"object": "list", "data": listed, "has_more": False, "url": path}
        if method == "POST" and path == "/v1/billing/meters":
            if any(m["event_name"] == form["event_name"] for m in self.meters.values()):
                return 400, invalid("An active meter with this event_name already exists")
            meter = fixture(
                "billing.meter",
                id=f"mtr_test_{stripe_token(24)}",
                created=now,
                updated=now,
                display_name=form["display_name"],
                event_name=form["event_name"],
                default_aggregation={"formula": form["default_aggregation[formula]"]},
                customer_mapping={
                    "event_payload_key": form["customer_mapping[event_payload_key]"],
                    "type": form["customer_mapping[type]"],
                },
                value_settings={"event_payload_key": form["value_settings[event_payload_key]"]},
                livemode=False,
            )
            self.meters[str(meter["id"])] = meter
            return 200, meter
        if method == "POST" and path == "/v1/billing/meter_events":
            timestamp = int(form.get("timestamp") or now)
            if timestamp < now - 35 * 86400 or timestamp > now + 300:
                return 400, invalid("timestamp must be within the past 35 days or 5 minutes ahead")
            payload = metadata_of(form, "payload[")
            if not payload.get("value", "").isdigit() or "stripe_customer_id" not in payload:
                return 400, invalid("payload needs stripe_customer_id and a numeric value")
            identifier = form.get("identifier") or f"gen_{stripe_token(16)}"
            event = fixture(
                "billing.meter_event",
                created=now,
                event_name=form["event_name"],
                identifier=identifier,
                payload=payload,
                timestamp=timestamp,
            )
            self.meter_events.setdefault(identifier, event)
            return 200, event
        return 404, invalid(f"No route {path}")

    def usage_of(self, customer: str, event_name: str) -> int:
        """What a meter sums for a customer: each identifier once."""
        return sum(
            int(e["payload"]["value"])
            for e in self.meter_events.values()
            if e["event_name"] == event_name and e["payload"]["stripe_customer_id"] == customer
        )

    def update_subscription(self, subscription: dict[str, Any], form: dict[str, str]) -> None:
        item = subscription["items"]["data"][0]
        if "cancel_at_period_end" in form:
            cancel = form["cancel_at_period_end"] == "true"
            subscription["cancel_at_period_end"] = cancel
            subscription["cancel_at"] = item["current_period_end"] if cancel else None
            subscription["canceled_at"] = int(time.time()) if cancel else None
        if form.get("pause_collection") == "":
            subscription["pause_collection"] = None
        elif "pause_collection[behavior]" in form:
            resumes = form.get("pause_collection[resumes_at]")
            subscription["pause_collection"] = {
                "behavior": form["pause_collection[behavior]"],
                "resumes_at": int(resumes) if resumes else None,
            }
        if "items[0][price]" in form:
            assert form["items[0][id]"] == item["id"]
            item["price"] = self.prices.get(form["items[0][price]"]) or {
                "id": form["items[0][price]"]
            }
            assert self.metered(form["items[0][price]"]) != ("items[0][quantity]" in form)
            item["quantity"] = int(form.get("items[0][quantity]", item["quantity"]))
        for key, value in form.items():
            if key.startswith("metadata["):
                subscription["metadata"][key[len("metadata[") : -1]] = value

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

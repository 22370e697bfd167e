"""A local fake of Square's API: records every request the real SDK sends (with its
`Square-Version` and idempotency key), answers like Square, and signs webhook events the way
Square does.

Like Square, it answers a repeated `idempotency_key` with the first answer. It keeps payment
links and their orders, payments, refunds, customers, catalog subscription plans and their
variations, subscriptions (with their scheduled actions) and the events list. `plan` scripts
the next answers: "500", "429", "decline" (a PAYMENT_METHOD_ERROR), "drop" (the connection
closes without an answer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import ADAPTER_CALLS, CALLS_RECEIVED
from tests.openapi_contract import Spec

#: Square's published specification, cut down to what the adapter uses (`spec/README.md`).
SPEC = Spec([Path(__file__).parent / "spec" / "api.json"])


#: The calls Square's adapter makes, by operationId (`tests/conftest.py` checks each is made).
ADAPTER_CALLS["square"] = {
    "CreatePaymentLink": "payments",
    "RetrieveOrder": "payments",
    "GetPayment": "payments",
    "RefundPayment": "payments",
    "SearchEvents": "payments",
    "CreateCustomer": "payments",
    "CreateCard": "payments",
    "DisableCard": "payments",
    "CreatePayment": "payments",
    "CompletePayment": "payments",
    "CancelPayment": "payments",
    "SearchCatalogObjects": "subscriptions",
    "UpsertCatalogObject": "subscriptions",
    "CreateSubscription": "subscriptions",
    "RetrieveSubscription": "subscriptions",
    "CancelSubscription": "subscriptions",
    "SwapPlan": "subscriptions",
    "DeleteSubscriptionAction": "subscriptions",
    "GetPaymentRefund": "payments",
    "PauseSubscription": "subscriptions",
    "ResumeSubscription": "subscriptions",
}


def event_problems(event: dict[str, Any]) -> list[str]:
    """What Square's schema of this event type (`payment.updated`: `PaymentUpdatedEvent`)
    says against `event`. Square's own examples put a dispute under `data.object.dispute`,
    its schema under `data.object.object`: either is checked as the schema's."""
    kind = str(event.get("type")).replace("_", ".")
    name = "".join(part.title() for part in kind.split(".")) + "Event"
    if name not in SPEC.documents["api.json"]["components"]["schemas"]:
        return [f"{event.get('type')}: no schema {name} in spec/api.json (scripts/specs.py)"]
    data = event.get("data") or {}
    if name.startswith("Dispute") and "dispute" in (data.get("object") or {}):
        data = {**data, "object": {"object": data["object"]["dispute"]}}
        event = {**event, "data": data}
    return SPEC.object_problems("api.json", name, event)


TOKEN = "EAAAfake-square-sandbox-token-" + "x" * 20
SIGNATURE_KEY = "square-signature-key-" + "k" * 12
LOCATION_ID = "LFAKE0001"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    version: str | None
    authorization: str | None

    @property
    def idempotency_key(self) -> str | None:
        return self.body.get("idempotency_key") if isinstance(self.body, dict) else None


def auto_taxes(order: dict[str, Any]) -> bool:
    return bool((order.get("pricing_options") or {}).get("auto_apply_taxes"))


def square_time(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeSquare:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.plan: list[str] = []
        self.links: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        #: Cards on file, and those whose charges Square declines (CARD_DECLINED).
        self.cards: dict[str, dict[str, Any]] = {}
        self.declining: set[str] = set()
        self.catalog: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        #: What the events search lists.
        self.events: list[dict[str, Any]] = []
        self.by_key: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        #: What Square's specification says against the traffic and the events.
        self.violations: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def do_PUT(self) -> None:
                fake.handle(self, "PUT")

            def do_DELETE(self) -> None:
                fake.handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSquare:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what tests use ----------------------------------------------------------------------

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids):06d}"

    def pay(self, order_id: str) -> dict[str, Any]:
        """The buyer pays the payment link's order at Square."""
        with self.lock:
            order = self.orders[order_id]
            payment_id = self.new_id("PAY")
            payment = {
                "id": payment_id,
                "order_id": order_id,
                "status": "COMPLETED",
                "receipt_number": payment_id[-4:],
                "receipt_url": f"https://squareupsandbox.com/receipt/preview/{payment_id}",
                "amount_money": order["total_money"],
                "location_id": LOCATION_ID,
                "source_type": "CARD",
                "card_details": {
                    "status": "CAPTURED",
                    "card": {
                        "card_brand": "MASTERCARD",
                        "last_4": "5100",
                        "exp_month": 6,
                        "exp_year": 2032,
                    },
                },
                "created_at": square_time(),
                "updated_at": square_time(),
            }
            self.payments[payment["id"]] = payment
            order["state"] = "COMPLETED"
            tender = {"id": self.new_id("T"), "type": "CARD", "payment_id": payment["id"]}
            order["tenders"] = [tender]
            return dict(payment)

    def event(
        self, event_type: str, name: str, obj: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        """A webhook event as Square sends it (also listed by the events search): the object
        under `data.object.<name>`, or under `data.object.<key>` when `key` is given (the
        schema puts a dispute under `object`, Square's own examples under `dispute`)."""
        key = extra.pop("key", None) or name
        event = {
            "merchant_id": "MFAKE",
            "type": event_type,
            "event_id": extra.pop("event_id", None) or self.new_id("evt-"),
            "created_at": extra.pop("created_at", None) or square_time(),
            "data": {"type": name, "id": obj.get("id"), "object": {key: obj}},
        }
        self.violations += event_problems(event)
        self.events.append(event)
        return event

    @staticmethod
    def signed(
        event: dict[str, Any] | bytes, url: str, key: str = SIGNATURE_KEY
    ) -> tuple[bytes, dict[str, str]]:
        """The delivery of `event` to `url`: its body and Square's signature header."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        digest = hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
        return body, {
            "content-type": "application/json",
            "x-square-hmacsha256-signature": base64.b64encode(digest).decode(),
        }

    # -- the server --------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("content-length") or 0)
        raw = request.rfile.read(length) if length else b""
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = json.loads(raw) if raw else {}
        with self.lock:
            self.requests.append(
                Recorded(
                    method,
                    parts.path,
                    query,
                    body,
                    request.headers.get("Square-Version"),
                    request.headers.get("Authorization"),
                )
            )
            scripted = self.plan.pop(0) if self.plan else ""
        if scripted == "drop":
            request.close_connection = True
            request.connection.shutdown(2)
            return
        with self.lock:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, answer = self.error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED")
            elif scripted == "500":
                status, answer = self.error(500, "API_ERROR", "INTERNAL_SERVER_ERROR")
            elif scripted == "429":
                status, answer = self.error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED")
            elif scripted == "decline":
                status, answer = self.error(400, "PAYMENT_METHOD_ERROR", "CARD_DECLINED")
            else:
                key = body.get("idempotency_key") if isinstance(body, dict) else None
                if key and (parts.path, key) in self.by_key:
                    status, answer = self.by_key[(parts.path, key)]
                else:
                    status, answer = self.answer(method, parts.path, query, body)
                    if key and status < 500:
                        self.by_key[(parts.path, key)] = (status, answer)
        try:
            # Square answers an error with the operation's own response object (its `errors`).
            _, operation = SPEC.operation(method, parts.path)
            CALLS_RECEIVED.add(("square", str(operation.get("operationId"))))
            found = SPEC.request_problems(method, parts.path, query, body or None)
            found += SPEC.response_problems(
                method, parts.path, 200 if status >= 400 else status, answer
            )
        except AssertionError as unknown:
            found = [str(unknown)]
        with self.lock:
            self.violations += found
        payload = json.dumps(answer).encode()
        request.send_response(status)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def error(status: int, category: str, code: str) -> tuple[int, dict[str, Any]]:
        return status, {"errors": [{"category": category, "code": code, "detail": code}]}

    def not_found(self) -> tuple[int, dict[str, Any]]:
        return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND")

    def answer(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        segments = path.strip("/").split("/")
        if path == "/v2/online-checkout/payment-links" and method == "POST":
            return self.create_link(body)
        if segments[:2] == ["v2", "orders"] and method == "GET":
            order = self.orders.get(segments[2])
            return (200, {"order": order}) if order else self.not_found()
        if segments[:2] == ["v2", "payments"] and method == "GET":
            payment = self.payments.get(segments[2])
            return (200, {"payment": payment}) if payment else self.not_found()
        if path == "/v2/refunds" and method == "POST":
            return self.refund(body)
        if segments[:2] == ["v2", "refunds"] and method == "GET":
            refund = self.refunds.get(segments[2])
            return (200, {"refund": refund}) if refund else self.not_found()
        if path == "/v2/payments" and method == "POST":
            return self.charge(body)
        if segments[:2] == ["v2", "payments"] and len(segments) == 4:
            return self.settle(segments[2], segments[3])
        if segments[:2] == ["v2", "cards"]:
            return self.card(segments, body)
        if path == "/v2/customers" and method == "POST":
            customer_id = self.new_id("CUST")
            customer = {
                "id": customer_id,
                "email_address": body.get("email_address"),
                "reference_id": body.get("reference_id"),
            }
            self.customers[customer_id] = customer
            return 200, {"customer": customer}
        if path == "/v2/catalog/search" and method == "POST":
            wanted = set(body.get("object_types") or [])
            return 200, {"objects": [o for o in self.catalog.values() if o["type"] in wanted]}
        if path == "/v2/catalog/object" and method == "POST":
            return self.upsert(body["object"])
        if path == "/v2/events" and method == "POST":
            return 200, {"events": list(reversed(self.events))}
        if segments[:2] == ["v2", "subscriptions"]:
            return self.subscription(method, segments, query, body)
        return self.not_found()

    def create_link(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        order_in = body["order"]
        total = sum(
            int(item["base_price_money"]["amount"]) * int(item["quantity"])
            for item in order_in["line_items"]
        )
        currency = order_in["line_items"][0]["base_price_money"]["currency"]
        # Square applies the order's discounts: a fixed amount, or a percentage (rounded).
        discount = 0
        for applied in order_in.get("discounts") or []:
            if applied["type"] == "FIXED_AMOUNT":
                discount += int(applied["amount_money"]["amount"])
            else:
                discount += round(total * float(applied["percentage"]) / 100)
        discount = min(discount, total)
        # Asked to, Square applies the seller's taxes for custom amounts (ad hoc line items)
        # to what is left after the discount: an additive one adds to the total.
        taxes, tax, added = [], 0, 0
        for found in self.catalog.values() if auto_taxes(order_in) else ():
            data = found.get("tax_data") or {}
            if found["type"] != "TAX" or not data.get("applies_to_custom_amounts", False):
                continue
            if data.get("enabled") is False or found.get("is_deleted"):
                continue
            rate = Decimal(data["percentage"]) / 100
            inclusive = data.get("inclusion_type") == "INCLUSIVE"
            base = total - discount
            applied = int((base - base / (1 + rate) if inclusive else base * rate).quantize(1))
            taxes.append({"uid": found["id"], "catalog_object_id": found["id"],
                          "name": data["name"], "percentage": data["percentage"],
                          "type": data.get("inclusion_type", "ADDITIVE"), "scope": "ORDER",
                          "applied_money": {"amount": applied, "currency": currency},
                          "auto_applied": True})  # fmt: skip
            tax += applied
            added += 0 if inclusive else applied
        order = {
            "id": self.new_id("ORD"),
            "location_id": order_in["location_id"],
            "reference_id": order_in.get("reference_id"),
            "metadata": order_in.get("metadata"),
            "line_items": order_in["line_items"],
            "state": "OPEN",
            "total_money": {"amount": total - discount + added, "currency": currency},
            **({"discounts": order_in["discounts"],
                "total_discount_money": {"amount": discount, "currency": currency}}
               if discount else {}),
            **({"pricing_options": order_in["pricing_options"], "taxes": taxes,
                "total_tax_money": {"amount": tax, "currency": currency}}
               if auto_taxes(order_in) else {}),
        }  # fmt: skip
        self.orders[order["id"]] = order
        link_id = self.new_id("LINK")
        link = {
            "id": link_id,
            "version": 1,
            "order_id": order["id"],
            "url": f"https://sandbox.square.link/u/{link_id}",
            "checkout_options": body.get("checkout_options"),
            "created_at": square_time(),
        }
        self.links[link_id] = link
        return 200, {"payment_link": link, "related_resources": {"orders": [order]}}

    def card(self, segments: list[str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A card on file made from a card payment; or disabled."""
        if len(segments) == 4 and segments[3] == "disable":
            found = self.cards.get(segments[2])
            if found is None:
                return self.not_found()
            found["enabled"] = False
            return 200, {"card": found}
        paid = self.payments.get(body.get("source_id", ""))
        if paid is None or paid["status"] != "COMPLETED":
            return self.error(400, "INVALID_REQUEST_ERROR", "INVALID_CARD")
        shown = paid["card_details"]["card"]
        card = {
            "id": self.new_id("ccof:"),
            **shown,
            "customer_id": body["card"]["customer_id"],
            "reference_id": body["card"].get("reference_id"),
            "enabled": True,
            "card_type": "CREDIT",
            "version": 1,
        }
        self.cards[card["id"]] = card
        return 200, {"card": card}

    def charge(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A payment with a card on file (off-session)."""
        card = self.cards.get(body.get("source_id", ""))
        if card is None or not card["enabled"] or card["customer_id"] != body.get("customer_id"):
            return self.error(400, "INVALID_REQUEST_ERROR", "INVALID_CARD")
        if card["id"] in self.declining:
            return self.error(400, "PAYMENT_METHOD_ERROR", "INSUFFICIENT_FUNDS")
        held = body.get("autocomplete") is False
        payment = {
            "id": self.new_id("PAY"),
            "status": "APPROVED" if held else "COMPLETED",
            "amount_money": body["amount_money"],
            "location_id": body["location_id"],
            "customer_id": body["customer_id"],
            "reference_id": body.get("reference_id"),
            "note": body.get("note"),
            "source_type": "CARD",
            "card_details": {
                "status": "AUTHORIZED" if held else "CAPTURED",
                "card": {k: card[k] for k in ("card_brand", "last_4", "exp_month", "exp_year")},
            },
            "version_token": self.new_id("v"),
            "created_at": square_time(),
            "updated_at": square_time(),
        }
        self.payments[payment["id"]] = payment
        return 200, {"payment": payment}

    def settle(self, payment_id: str, action: str) -> tuple[int, dict[str, Any]]:
        """Complete or cancel an APPROVED payment."""
        payment = self.payments.get(payment_id)
        if payment is None:
            return self.not_found()
        if payment["status"] != "APPROVED":
            return self.error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST")
        done = action == "complete"
        payment.update(
            status="COMPLETED" if done else "CANCELED",
            updated_at=square_time(),
            card_details={
                **payment["card_details"],
                "status": "CAPTURED" if done else "VOIDED",
            },
        )
        return 200, {"payment": payment}

    def refund(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payment = self.payments.get(body.get("payment_id", ""))
        if payment is None:
            return self.not_found()
        amount = int(body["amount_money"]["amount"])
        refunded = int((payment.get("refunded_money") or {}).get("amount") or 0)
        if refunded + amount > int(payment["amount_money"]["amount"]):
            return self.error(400, "INVALID_REQUEST_ERROR", "REFUND_AMOUNT_INVALID")
        refund = {
            "id": self.new_id("REF"),
            "payment_id": payment["id"],
            **({"order_id": payment["order_id"]} if "order_id" in payment else {}),
            "status": "PENDING",
            "amount_money": body["amount_money"],
            "reason": body.get("reason"),
            "created_at": square_time(),
        }
        self.refunds[refund["id"]] = refund
        payment["refund_ids"] = [*payment.get("refund_ids", []), refund["id"]]
        payment["refunded_money"] = {
            "amount": refunded + amount,
            "currency": body["amount_money"]["currency"],
        }
        return 200, {"refund": refund}

    def tax(self, name: str, percentage: str, **data: Any) -> str:
        """A tax the seller set up in Square (Items > Taxes), applied to custom amounts
        unless `data` says otherwise; its id."""
        tax_data = {"name": name, "percentage": percentage, "calculation_phase":
                    "TAX_SUBTOTAL_PHASE", "inclusion_type": "ADDITIVE",
                    "applies_to_custom_amounts": True, "enabled": True, **data}  # fmt: skip
        with self.lock:
            tax_id = self.new_id("TAX")
            self.catalog[tax_id] = {"type": "TAX", "id": tax_id, "version": 1,
                                    "is_deleted": False, "tax_data": tax_data}  # fmt: skip
        return tax_id

    def upsert(self, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        created = {**obj, "id": self.new_id("CAT"), "version": 1, "is_deleted": False}
        self.catalog[created["id"]] = created
        mappings = [{"client_object_id": obj["id"], "object_id": created["id"]}]
        return 200, {"catalog_object": created, "id_mappings": mappings}

    def subscription(
        self, method: str, segments: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if len(segments) == 2 and method == "POST":
            variation = self.catalog.get(body.get("plan_variation_id", ""))
            if variation is None or body.get("customer_id") not in self.customers:
                return self.not_found()
            subscription = {
                "id": self.new_id("SUB"),
                "location_id": body["location_id"],
                "customer_id": body["customer_id"],
                "plan_variation_id": variation["id"],
                "status": "PENDING",
                **({"tax_percentage": body["tax_percentage"]} if "tax_percentage" in body else {}),
                "start_date": date.today().isoformat(),
                "created_at": square_time(),
            }
            self.subscriptions[subscription["id"]] = {**subscription, "actions": []}
            return 200, {"subscription": subscription}
        found = self.subscriptions.get(segments[2])
        if found is None:
            return self.not_found()
        shown = {k: v for k, v in found.items() if k != "actions" or query.get("include")}
        if len(segments) == 3 and method == "GET":
            return 200, {"subscription": shown}
        if segments[3:] == ["cancel"] and method == "POST":
            if found["status"] != "ACTIVE" or found.get("canceled_date"):
                return self.error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST")
            found["canceled_date"] = found["charged_through_date"]
            action = {"id": self.new_id("ACT"), "type": "CANCEL",
                      "effective_date": found["charged_through_date"]}  # fmt: skip
            found["actions"].append(action)
            return 200, {"subscription": found, "actions": [action]}
        if segments[3:4] == ["actions"] and method == "DELETE":
            deleted = [a for a in found["actions"] if a["id"] == segments[4]]
            if not deleted:
                return self.not_found()
            found["actions"] = [a for a in found["actions"] if a["id"] != segments[4]]
            if deleted[0]["type"] == "CANCEL":
                found.pop("canceled_date", None)
            return 200, {"subscription": found}
        if segments[3:] == ["pause"] and method == "POST":
            return self.pause(found, body)
        if segments[3:] == ["resume"] and method == "POST":
            if found["status"] not in ("PAUSED", "DEACTIVATED"):
                return self.error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST")
            # IMMEDIATE: resumed today (this fake runs the action at once).
            on = body.get("resume_effective_date") or date.today().isoformat()
            action = {"id": self.new_id("ACT"), "type": "RESUME", "effective_date": on}
            found["status"] = "ACTIVE"
            return 200, {"subscription": found, "actions": [action]}
        if segments[3:] == ["swap-plan"] and method == "POST":
            action = {"id": self.new_id("ACT"), "type": "SWAP_PLAN",
                      "new_plan_variation_id": body["new_plan_variation_id"]}  # fmt: skip
            found["actions"].append(action)
            return 200, {"subscription": found, "actions": [action]}
        return self.not_found()

    def pause(self, found: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A PAUSE action at the next billing date (Square pauses no sooner), and a RESUME
        action if the pause has an end, at least a billing cycle later."""
        pending = {a["type"] for a in found["actions"]}
        if found["status"] != "ACTIVE" or pending & {"PAUSE", "CANCEL"}:
            return self.error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST")
        starts = max(body.get("pause_effective_date") or "", found["charged_through_date"])
        actions = [{"id": self.new_id("ACT"), "type": "PAUSE", "effective_date": starts}]
        resumes = body.get("resume_effective_date")
        if resumes is not None:
            if resumes <= starts:
                return self.error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE")
            actions.append({"id": self.new_id("ACT"), "type": "RESUME", "effective_date": resumes})
        found["actions"] += actions
        return 200, {"subscription": found, "actions": actions}

    def run_pause(self, sub_id: str) -> dict[str, Any]:
        """The billing date of a scheduled pause came: Square pauses the subscription."""
        with self.lock:
            found = self.subscriptions[sub_id]
            found["status"] = "PAUSED"
            found["actions"] = [a for a in found["actions"] if a["type"] != "PAUSE"]
            return {k: v for k, v in found.items() if k != "actions"}

    def activate(self, sub_id: str, days: int = 30) -> dict[str, Any]:
        """The customer paid the first invoice: the subscription is active until `days`."""
        with self.lock:
            found = self.subscriptions[sub_id]
            found["status"] = "ACTIVE"
            found["charged_through_date"] = (date.today() + timedelta(days=days)).isoformat()
            return {k: v for k, v in found.items() if k != "actions"}

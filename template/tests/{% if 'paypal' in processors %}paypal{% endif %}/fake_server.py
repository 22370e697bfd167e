"""A local fake of PayPal's REST API: records every request the real SDK sends, answers like
PayPal, and signs webhook events the way PayPal does.

Like PayPal, it answers a repeated `PayPal-Request-Id` with the first answer, refuses to
capture an order twice (ORDER_ALREADY_CAPTURED) or before the buyer approved it, and keeps
orders, captures, refunds, catalog products, plans and subscriptions. Its signing
certificate is self-signed and served from `/v1/notifications/certs/CERT-1` (a test widens
the adapter's allow-list to this server). `plan` scripts the next answers: "500", "429",
"decline" (a capture's INSTRUMENT_DECLINED).
"""

from __future__ import annotations

import base64
import copy
import functools
import itertools
import json
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509.oid import NameOID

from tests.conftest import ADAPTER_CALLS, CALLS_RECEIVED
from tests.openapi_contract import Spec

#: PayPal's published OpenAPI files (`spec/README.md`): what the fake takes and answers.
SPEC = Spec(sorted((Path(__file__).parent / "spec").glob("*.json")))
#: The schema of each event type's `resource` (PayPal's webhook events reference), by prefix.
EVENT_RESOURCES = {
    "CHECKOUT.ORDER.": ("pp_checkout_orders_v2.json", "order"),
    "PAYMENT.CAPTURE.REFUNDED": ("pp_payments_payment_v2.json", "refund"),
    "PAYMENT.CAPTURE.REVERSED": ("pp_payments_payment_v2.json", "refund"),
    "PAYMENT.CAPTURE.": ("pp_payments_payment_v2.json", "capture-2"),
    "PAYMENT.AUTHORIZATION.": ("pp_payments_payment_v2.json", "authorization-2"),
    "VAULT.PAYMENT-TOKEN.": ("pp_vault_payment_tokens_v3.json", "payment_token_response"),
    "PAYMENT.SALE.": ("pp_payments_payment_v1.json", "sale"),
    "CUSTOMER.DISPUTE.": ("pp_customer_disputes_v1.json", "dispute"),
    "BILLING.SUBSCRIPTION.": ("pp_billing_subscriptions_v1.json", "subscription"),
}
#: The calls PayPal's adapter makes, by operationId (`tests/conftest.py` checks each is made).
ADAPTER_CALLS["paypal"] = {
    "orders.create": "payments",
    "orders.get": "payments",
    "orders.capture": "payments",
    "captures.refund": "payments",
    "orders.authorize": "payments",
    "authorizations.capture": "payments",
    "authorizations.void": "payments",
    "authorizations.get": "payments",
    "payment-tokens.delete": "payments",
    "setup-tokens.create": "payments",
    "payment-tokens.create": "payments",
    "verify-webhook-signature.post": "payments",
    "webhooks-events.list": "payments",
    "products.get": "subscriptions",
    "products.create": "subscriptions",
    "plans.list": "subscriptions",
    "plans.create": "subscriptions",
    "plans.deactivate": "subscriptions",
    "subscriptions.create": "subscriptions",
    "subscriptions.get": "subscriptions",
    "subscriptions.suspend": "subscriptions",
    "subscriptions.activate": "subscriptions",
    "subscriptions.cancel": "subscriptions",
    "subscriptions.revise": "subscriptions",
}
#: Where PayPal's published specs lag behind PayPal: what they would call a violation that
#: PayPal's own SDK sends. Vault v3's file (2024) lists only BILLING_AGREEMENT as a token's
#: `type`; a setup token is made a payment token with `SETUP_TOKEN`, which the official SDK
#: has (`paypalserversdk.models.vault_token_request_type.VaultTokenRequestType`) and PayPal's
#: "save payment methods" guide uses.
SPEC_LAGS = ("SETUP_TOKEN",)
#: Not in the OpenAPI files: OAuth (the SDK's own) and the signing certificates.
UNSPECIFIED = ("/v1/oauth2/token", "/v1/notifications/certs/")


#: PayPal's message of each error status (its specs' `error_<status>`; 429 from its docs:
#: the specs leave rate limiting out).
MESSAGES = {
    401: "Authentication failed due to missing authorization header, or invalid "
    "authentication credentials.",
    404: "The specified resource does not exist.",
    422: "The requested action could not be performed, semantically incorrect, or failed "
    "business validation.",
    429: "Too many requests. Blocked due to rate limiting.",
    500: "An internal server error occurred.",
}


def issue_descriptions(node: Any) -> Iterator[tuple[str, str]]:
    """(issue, description) of every error detail PayPal's specs list: a schema whose
    `issue` and `description` are each one fixed value."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            issue = (properties.get("issue") or {}).get("enum") or []
            text = (properties.get("description") or {}).get("enum") or []
            if len(issue) == 1 and len(text) == 1:
                yield issue[0], text[0]
        for value in node.values():
            yield from issue_descriptions(value)
    elif isinstance(node, list):
        for value in node:
            yield from issue_descriptions(value)


@functools.cache
def issue_description(issue: str, about: str = "") -> str:
    """PayPal's description of an error issue (the first that holds `about`), as its specs
    list it."""
    found = [
        text
        for listed, text in issue_descriptions(list(SPEC.documents.values()))
        if listed == issue and about in text
    ]
    assert found, f"PayPal's specs list no issue {issue} about {about!r}"
    return found[0]


def event_problems(event: dict[str, Any]) -> list[str]:
    """What PayPal's schemas say against a webhook event: its envelope and its resource."""
    found = SPEC.object_problems("pp_notifications_webhooks_v1.json", "event", event)
    kind = str(event.get("event_type"))
    prefix = next((p for p in EVENT_RESOURCES if kind.startswith(p)), None)
    if prefix is None:
        return [*found, f"{kind}: no schema known for this event's resource"]
    file, name = EVENT_RESOURCES[prefix]
    return found + SPEC.object_problems(file, name, event.get("resource"))


CLIENT_ID = "paypal-test-client"
CLIENT_SECRET = "paypal-test-secret-" + "s" * 16
WEBHOOK_ID = "1WHTEST0001FAKE"  # PayPal's webhook ids are letters and digits
TOKEN = "A21AAFakeAccessToken"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    request_id: str | None
    authorization: str | None


def certificate(key: rsa.RSAPrivateKey, expired: bool = False) -> bytes:
    """A self-signed PEM certificate for `key` (valid now, or expired yesterday)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.test")])
    now = datetime.now(UTC)
    start, end = (
        (now - timedelta(days=30), now - timedelta(days=1))
        if expired
        else (now - timedelta(days=1), now + timedelta(days=30))
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def paid_amount(unit: dict[str, Any]) -> dict[str, Any]:
    """What a capture or authorization of a purchase unit is for: its amount's money,
    without the breakdown (a capture's amount is plain money)."""
    return {k: v for k, v in unit["amount"].items() if k in ("currency_code", "value")}


def paypal_time(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: int, currency: str = "USD") -> dict[str, str]:
    return {"currency_code": currency, "value": f"{amount // 100}.{amount % 100:02d}"}


def cents_of(value: dict[str, str]) -> int:
    units, _, cents = value["value"].partition(".")
    return int(units) * 100 + int((cents + "00")[:2])


class FakePayPal:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.plan: list[str] = []
        self.delay = 0.0
        self.orders: dict[str, dict[str, Any]] = {}
        self.captures: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        #: An issue PayPal refuses the next refunds with (None: it makes them).
        self.refund_refused: str | None = None
        #: The capture of each refund (PayPal shows it as the refund's `up` link).
        self.refunded_capture: dict[str, str] = {}
        #: Authorizations (intent AUTHORIZE), and the vault's payment tokens.
        self.authorizations: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        #: Setup tokens, and whether the buyer approved each.
        self.setup_tokens: dict[str, dict[str, Any]] = {}
        #: Tokens whose charges PayPal declines (INSTRUMENT_DECLINED).
        self.declining: set[str] = set()
        #: A void answered `204 No Content` (PayPal's minimal answer) instead of the object.
        self.void_minimal = False
        self.products: dict[str, dict[str, Any]] = {}
        self.plans: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.revisions: dict[str, dict[str, Any]] = {}
        #: What GET /v1/notifications/webhooks-events lists.
        self.events: list[dict[str, Any]] = []
        #: The events list's `next` link, if any (its page 2 is empty).
        self.events_next: str | None = None
        #: Certificates served, by the last part of their URL; "MISSING" is not served.
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certs = {"CERT-1": certificate(self.key), "CERT-EXPIRED": certificate(self.key, True)}
        self.by_request_id: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        #: What PayPal's specs say against the traffic and the events (`tests/openapi_contract`).
        self.violations: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def do_PATCH(self) -> None:
                fake.handle(self, "PATCH")

            def do_DELETE(self) -> None:
                fake.handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakePayPal:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what tests read ---------------------------------------------------------------------

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids):06d}"

    def approve(self, order_id: str) -> None:
        """The buyer approves the order at PayPal."""
        with self.lock:
            self.orders[order_id].update(status="APPROVED", update_time=paypal_time())

    def vault(self, customer: str, email: str = "buyer@example.com") -> dict[str, Any]:
        """PayPal keeps the buyer's wallet for `customer` (a payment with
        `store_in_vault`): the payment token, as Vault v3 shows it."""
        token_id = self.new_id("TOKEN")
        token = {
            "id": token_id,
            "customer": {"id": customer},
            "payment_source": {"paypal": {"email_address": email}},
            "links": [
                {"href": f"{self.url}/v3/vault/payment-tokens/{token_id}", "rel": "self"},
            ],
        }
        with self.lock:
            self.tokens[token_id] = token
        return token

    def approve_setup(self, token_id: str) -> None:
        """The buyer approves the setup token at PayPal."""
        with self.lock:
            self.setup_tokens[token_id]["status"] = "APPROVED"

    def setup_token(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        token_id = self.new_id("SETUP")
        token: dict[str, Any] = {
            "id": token_id,
            "customer": body.get("customer") or {"id": self.new_id("C")},
            "status": "PAYER_ACTION_REQUIRED",
            "payment_source": {"paypal": {}},
            "links": [
                {
                    "href": f"https://www.sandbox.paypal.test/agreements/approve?approval_session_id={token_id}",
                    "rel": "approve",
                    "method": "GET",
                },
                {"href": f"{self.url}/v3/vault/setup-tokens/{token_id}", "rel": "self"},
            ],
        }
        self.setup_tokens[token_id] = token
        return 201, token

    def payment_token(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A payment token from an approved setup token."""
        source = (body.get("payment_source") or {}).get("token") or {}
        setup = self.setup_tokens.get(str(source.get("id")))
        if setup is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if setup["status"] != "APPROVED":
            return self.error(422, "UNPROCESSABLE_ENTITY")  # (Vault v3 lists no issue for it)
        token_id = self.new_id("TOKEN")
        token = {
            "id": token_id,
            "customer": setup["customer"],
            "payment_source": {"paypal": {"email_address": "buyer@example.com"}},
            "links": [
                {"href": f"{self.url}/v3/vault/payment-tokens/{token_id}", "rel": "self"},
            ],
        }
        self.tokens[token_id] = token
        return 201, token

    def cert_url(self, name: str = "CERT-1") -> str:
        return f"{self.url}/v1/notifications/certs/{name}"

    def event(self, event_type: str, resource: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """A webhook event as PayPal sends it, listed by the events API too."""
        event = {
            "id": extra.pop("event_id", None) or self.new_id("WH-EVT-"),
            "event_version": "1.0",
            "create_time": extra.pop("create_time", None) or paypal_time(),
            "resource_type": extra.pop("resource_type", "capture"),
            "event_type": event_type,
            "summary": event_type,
            "resource": resource,
            **extra,
        }
        self.violations += event_problems(event)
        self.events.append(event)
        return event

    def signed(
        self,
        event: dict[str, Any] | bytes,
        *,
        webhook_id: str = WEBHOOK_ID,
        cert: str = "CERT-1",
        cert_url: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The delivery of `event`: its body and PayPal's transmission headers."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        transmission_id = self.new_id("tx-")
        transmission_time = paypal_time()
        message = f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}"
        signature = self.key.sign(message.encode(), padding.PKCS1v15(), SHA256())
        return body, {
            "content-type": "application/json",
            "paypal-transmission-id": transmission_id,
            "paypal-transmission-time": transmission_time,
            "paypal-transmission-sig": base64.b64encode(signature).decode(),
            "paypal-cert-url": cert_url or self.cert_url(cert),
            "paypal-auth-algo": "SHA256withRSA",
        }

    # -- the server --------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("content-length") or 0)
        raw = request.rfile.read(length) if length else b""
        parts = urlsplit(request.path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            body = json.loads(raw) if raw and raw[:1] in b"{[" else raw.decode()
        except ValueError:
            body = raw.decode()
        request_id = request.headers.get("PayPal-Request-Id")
        with self.lock:
            self.requests.append(
                Recorded(method, path, body, request_id, request.headers.get("Authorization"))
            )
            scripted = ""
            # "decline" waits for a capture; the others take the next call (not the token).
            if (
                self.plan
                and path != "/v1/oauth2/token"
                and (self.plan[0] != "decline" or path.endswith("/capture"))
            ):
                scripted = self.plan.pop(0)
        if self.delay:
            time.sleep(self.delay)
        if path.startswith("/v1/notifications/certs/"):
            self.send_pem(request, path.rsplit("/", 1)[-1])
            return
        with self.lock:
            key = (path, request_id) if request_id and method == "POST" else None
            if key and key in self.by_request_id:
                status, answer = self.by_request_id[key]
            else:
                status, answer = self.answer(method, path, query, body, request, scripted)
                if key and status < 500:
                    self.by_request_id[key] = (status, answer)
        if not path.startswith(UNSPECIFIED):
            # (Rate limiting is in PayPal's docs, not in its OpenAPI files: a 429's body is not
            # checked.)
            self.check(method, path, query, body, status, answer if status != 429 else None)
        self.send(request, status, answer)

    def check(
        self, method: str, path: str, query: dict[str, str], body: Any, status: int, answer: Any
    ) -> None:
        """Hold the request and the answer to PayPal's published specs."""
        try:
            _, operation = SPEC.operation(method, path)
            CALLS_RECEIVED.add(("paypal", str(operation.get("operationId"))))
            found = SPEC.request_problems(method, path, query, body or None)
            if answer is not None:
                found += SPEC.response_problems(
                    method, path, status, answer if status != 204 else None
                )
        except AssertionError as unknown:
            found = [str(unknown)]
        found = [f for f in found if not any(f'"{lag}"' in f for lag in SPEC_LAGS)]
        with self.lock:
            self.violations += found

    def send_pem(self, request: BaseHTTPRequestHandler, name: str) -> None:
        pem = self.certs.get(name)
        request.send_response(200 if pem else 404)
        request.send_header("content-type", "application/x-pem-file")
        request.send_header("content-length", str(len(pem or b"")))
        request.end_headers()
        request.wfile.write(pem or b"")

    def send(self, request: BaseHTTPRequestHandler, status: int, answer: dict[str, Any]) -> None:
        payload = json.dumps(answer).encode() if status != 204 else b""
        request.send_response(status)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def error(
        status: int, name: str, issue: str | None = None, about: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """An error as PayPal words it: the message of its status, and the issue's own
        description (both as PayPal's specs list them; `about`: a word of the description
        where an issue has several, one per operation)."""
        answer: dict[str, Any] = {"name": name, "message": MESSAGES[status], "debug_id": "fake"}
        if issue:
            description = issue_description(issue, about)
            answer["details"] = [{"issue": issue, "description": description}]
        return status, answer

    def answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        request: BaseHTTPRequestHandler,
        scripted: str,
    ) -> tuple[int, dict[str, Any]]:
        if path == "/v1/oauth2/token":
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {expected}":
                return 401, {"error": "invalid_client", "error_description": "bad credentials"}
            return 200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 32400}
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.error(401, "AUTHENTICATION_FAILURE")
        if scripted == "500":
            return self.error(500, "INTERNAL_SERVER_ERROR")
        if scripted == "429":
            return self.error(429, "RATE_LIMIT_REACHED")
        segments = path.strip("/").split("/")
        if path == "/v2/checkout/orders" and method == "POST":
            return self.create_order(body)
        if segments[:3] == ["v2", "checkout", "orders"] and len(segments) >= 4:
            order = self.orders.get(segments[3])
            if order is None:
                return self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            if len(segments) == 5 and segments[4] == "capture":
                return self.capture(order, scripted)
            if len(segments) == 5 and segments[4] == "authorize":
                return self.authorize(order)
            return 200, order
        if segments[:3] == ["v2", "payments", "captures"] and len(segments) == 5:
            return self.refund(segments[3], body)
        if segments[:3] == ["v2", "payments", "authorizations"] and len(segments) >= 4:
            return self.authorization(method, segments, body, request)
        if path == "/v3/vault/setup-tokens" and method == "POST":
            return self.setup_token(body)
        if path == "/v3/vault/payment-tokens" and method == "POST":
            return self.payment_token(body)
        if segments[:3] == ["v3", "vault", "payment-tokens"] and len(segments) == 4:
            if method == "DELETE":
                self.tokens.pop(segments[3], None)
                return 204, {}
            found = self.tokens.get(segments[3])
            return (200, found) if found else self.error(404, "RESOURCE_NOT_FOUND")
        if path == "/v1/notifications/verify-webhook-signature":
            return 200, {"verification_status": self.verify(body)}
        if path == "/v1/notifications/webhooks-events":
            if self.events_next and request.path == self.events_next.removeprefix(self.url):
                return 200, {"events": [], "links": []}  # the next page, the last
            links = [{"href": self.events_next, "rel": "next"}] if self.events_next else []
            return 200, {"events": list(reversed(self.events)), "links": links}
        if segments[:3] == ["v1", "catalogs", "products"]:
            return self.product(method, segments, body)
        if segments[:3] == ["v1", "billing", "plans"]:
            return self.billing_plan(method, segments, query, body)
        if segments[:3] == ["v1", "billing", "subscriptions"]:
            return self.subscription(method, segments, body)
        return self.error(404, "RESOURCE_NOT_FOUND")

    def create_order(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        vault_id = ((body.get("payment_source") or {}).get("paypal") or {}).get("vault_id")
        if vault_id is not None:
            return self.charge_token(body, vault_id)
        amount = body["purchase_units"][0]["amount"]
        breakdown = amount.get("breakdown")
        if breakdown is not None:
            # PayPal checks the breakdown: the value is the item total less the discount.
            expected = Decimal(breakdown["item_total"]["value"]) - Decimal(
                (breakdown.get("discount") or {}).get("value", "0")
            )
            if Decimal(amount["value"]) != expected:
                return self.error(422, "UNPROCESSABLE_ENTITY", "AMOUNT_MISMATCH")
        order_id = self.new_id("ORDER")
        order = {
            "id": order_id,
            "intent": body["intent"],
            "status": "PAYER_ACTION_REQUIRED",
            "purchase_units": body["purchase_units"],
            # PayPal answers with the payer's source, not the request's experience context.
            "payment_source": {"paypal": {}} if "paypal" in body.get("payment_source", {}) else {},
            "create_time": paypal_time(),
            "links": [
                {"href": f"{self.url}/v2/checkout/orders/{order_id}", "rel": "self"},
                {
                    "href": f"https://www.sandbox.paypal.test/checkoutnow?token={order_id}",
                    "rel": "payer-action",
                },
            ],
        }
        self.orders[order_id] = order
        return 200, order

    def capture(self, order: dict[str, Any], scripted: str) -> tuple[int, dict[str, Any]]:
        if order["status"] == "COMPLETED":
            return self.error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return self.error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        if scripted == "decline":
            return self.error(422, "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        unit = order["purchase_units"][0]
        capture = {
            "id": self.new_id("CAPTURE"),
            "status": "COMPLETED",
            "amount": paid_amount(unit),
            "custom_id": unit.get("custom_id"),
            "final_capture": True,
            "create_time": paypal_time(),
            "update_time": paypal_time(),
        }
        # The capture as Payments v2 and its events show it name its order; the order's own
        # copy does not (Orders v2's capture has no supplementary_data).
        self.captures[capture["id"]] = {
            **capture,
            "supplementary_data": {"related_ids": {"order_id": order["id"]}},
        }
        order["status"] = "COMPLETED"
        unit["payments"] = {"captures": [capture]}
        return 201, order

    def charge_token(self, body: dict[str, Any], vault_id: str) -> tuple[int, dict[str, Any]]:
        """An order paid with a saved wallet: completed at once (captured or authorized)."""
        if vault_id not in self.tokens:
            return self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if vault_id in self.declining:
            return self.error(422, "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        order_id = self.new_id("ORDER")
        order = {
            "id": order_id,
            "intent": body["intent"],
            "status": "APPROVED",
            "purchase_units": copy.deepcopy(body["purchase_units"]),
            "payment_source": {"paypal": {"email_address": "buyer@example.com"}},
            "create_time": paypal_time(),
            "links": [{"href": f"{self.url}/v2/checkout/orders/{order_id}", "rel": "self"}],
        }
        self.orders[order_id] = order
        return self.authorize(order) if body["intent"] == "AUTHORIZE" else self.capture(order, "")

    def authorize(self, order: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if order["status"] == "COMPLETED":
            return self.error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_AUTHORIZED")
        if order["status"] != "APPROVED":
            return self.error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        unit = order["purchase_units"][0]
        now = datetime.now(UTC)
        authorization = {
            "id": self.new_id("AUTH"),
            "status": "CREATED",
            "amount": paid_amount(unit),
            "custom_id": unit.get("custom_id"),
            "expiration_time": paypal_time(now + timedelta(days=29)),
            "create_time": paypal_time(now),
            "update_time": paypal_time(now),
        }
        self.authorizations[authorization["id"]] = {
            **authorization,
            "supplementary_data": {"related_ids": {"order_id": order["id"]}},
        }
        order["status"] = "COMPLETED"
        unit["payments"] = {"authorizations": [authorization]}
        return 201, order

    def authorization(
        self, method: str, segments: list[str], body: Any, request: BaseHTTPRequestHandler
    ) -> tuple[int, dict[str, Any]]:
        """Payments v2's authorizations: read, capture (all or part), void."""
        held = self.authorizations.get(segments[3])
        if held is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        action = segments[4] if len(segments) > 4 else None
        if action is None:
            return 200, held
        if held["status"] != "CREATED":
            issue = "AUTHORIZATION_ALREADY_CAPTURED" if held["status"] == "CAPTURED" else None
            return self.error(422, "UNPROCESSABLE_ENTITY", issue or "PREVIOUSLY_VOIDED")
        if action == "void":
            held.update(status="VOIDED", update_time=paypal_time())
            return (204, {}) if self.void_minimal else (200, held)
        amount = (body or {}).get("amount") or held["amount"]
        if cents_of(amount) > cents_of(held["amount"]):
            return self.error(422, "UNPROCESSABLE_ENTITY", "MAX_CAPTURE_AMOUNT_EXCEEDED")
        capture = {
            "id": self.new_id("CAPTURE"),
            "status": "COMPLETED",
            "amount": amount,
            "custom_id": held.get("custom_id"),
            "invoice_id": (body or {}).get("invoice_id"),
            "final_capture": True,
            "create_time": paypal_time(),
            "update_time": paypal_time(),
            "supplementary_data": {
                "related_ids": {
                    "order_id": held["supplementary_data"]["related_ids"]["order_id"],
                    "authorization_id": held["id"],
                }
            },
        }
        self.captures[capture["id"]] = capture
        partial = cents_of(amount) < cents_of(held["amount"])
        held.update(status="PARTIALLY_CAPTURED" if partial else "CAPTURED")
        return 201, capture

    def refund(self, capture_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        capture = self.captures.get(capture_id)
        if capture is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        currency = capture["amount"]["currency_code"]
        total = cents_of(capture["amount"])
        amount = body.get("amount") or capture["amount"]
        cents = cents_of(amount)
        refunded = sum(
            cents_of(self.refunds[r]["amount"])
            for r, captured in self.refunded_capture.items()
            if captured == capture_id
        )
        if refunded + cents > total:
            return self.error(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED")
        if self.refund_refused is not None:
            return self.error(422, "UNPROCESSABLE_ENTITY", self.refund_refused)
        refund = {
            "id": self.new_id("REFUND"),
            "status": "COMPLETED",
            "amount": amount,
            **({"invoice_id": body["invoice_id"]} if "invoice_id" in body else {}),
            "seller_payable_breakdown": {
                "total_refunded_amount": money(refunded + cents, currency)
            },
            "links": [
                {"href": f"{self.url}/v2/payments/captures/{capture_id}", "rel": "up"},
            ],
            "create_time": paypal_time(),
        }
        self.refunds[refund["id"]] = refund
        self.refunded_capture[refund["id"]] = capture_id
        order = self.orders.get(
            capture.get("supplementary_data", {}).get("related_ids", {}).get("order_id", "")
        )
        if order is not None:  # Orders v2 lists an order's refunds beside its captures
            listed = {k: v for k, v in refund.items() if k != "links"}
            payments = order["purchase_units"][0].setdefault("payments", {})
            payments.setdefault("refunds", []).append(listed)
        return 201, refund

    def verify(self, body: dict[str, Any]) -> str:
        """The postback: PayPal checks the signature over the event it was sent."""
        event = json.dumps(body["webhook_event"]).encode()
        message = (
            f"{body['transmission_id']}|{body['transmission_time']}|{body['webhook_id']}|"
            f"{zlib.crc32(event)}"
        )
        try:
            self.key.public_key().verify(
                base64.b64decode(body["transmission_sig"]),
                message.encode(),
                padding.PKCS1v15(),
                SHA256(),
            )
        except Exception:  # noqa: BLE001 - any failure is a failed verification
            return "FAILURE"
        return "SUCCESS"

    def product(
        self, method: str, segments: list[str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if method == "POST":
            product = {**body, "create_time": paypal_time()}
            self.products[body["id"]] = product
            return 201, product
        found = self.products.get(segments[3]) if len(segments) > 3 else None
        if found is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        return 200, found

    def billing_plan(
        self, method: str, segments: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if method == "GET" and len(segments) == 3:
            plans = [p for p in self.plans.values() if p["product_id"] == query.get("product_id")]
            listed = f"{self.url}/v1/billing/plans?product_id={query.get('product_id')}"
            return 200, {
                "plans": plans,
                "links": [{"href": listed, "rel": "self", "method": "GET"}],
            }
        if method == "POST" and len(segments) == 3:
            plan = {"id": self.new_id("P-"), **body, "create_time": paypal_time()}
            self.plans[plan["id"]] = plan
            return 201, plan
        found = self.plans.get(segments[3])
        if found is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if len(segments) == 5 and segments[4] in ("activate", "deactivate"):
            found["status"] = "ACTIVE" if segments[4] == "activate" else "INACTIVE"
            return 204, {}
        return 200, found

    def subscription(
        self, method: str, segments: list[str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if method == "POST" and len(segments) == 3:
            chosen = self.plans.get(body["plan_id"])
            if chosen is None or chosen["status"] != "ACTIVE":
                return self.error(422, "UNPROCESSABLE_ENTITY", "PLAN_STATUS_INVALID")
            sub_id = self.new_id("I-")
            approve = (
                f"https://www.sandbox.paypal.test/webapps/billing/subscriptions?ba_token={sub_id}"
            )
            subscription = {
                "id": sub_id,
                "status": "APPROVAL_PENDING",
                "plan_id": body["plan_id"],
                "quantity": body.get("quantity", "1"),
                "custom_id": body.get("custom_id"),
                "create_time": paypal_time(),
                "links": [{"href": approve, "rel": "approve"}],
            }
            self.subscriptions[sub_id] = subscription
            return 201, subscription
        existing = self.subscriptions.get(segments[3])
        if existing is None:
            return self.error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if len(segments) == 5 and segments[4] == "revise":
            return self.revise(existing, body)
        if len(segments) == 5:
            action = segments[4]
            allowed = {
                "suspend": ("ACTIVE",),
                "activate": ("SUSPENDED",),
                "cancel": ("ACTIVE", "SUSPENDED"),
            }
            if existing["status"] not in allowed.get(action, ()):
                return self.error(
                    422, "UNPROCESSABLE_ENTITY", "SUBSCRIPTION_STATUS_INVALID", f"{action} action"
                )
            existing["status"] = {
                "suspend": "SUSPENDED",
                "activate": "ACTIVE",
                "cancel": "CANCELLED",
            }[action]
            existing["status_update_time"] = paypal_time()
            existing["status_change_note"] = body["reason"]
            return 204, {}
        return 200, existing

    def revise(self, existing: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A revision waits for the buyer's approval (`approve_revision`)."""
        chosen = self.plans.get(body.get("plan_id", existing["plan_id"]))
        if chosen is None or chosen["status"] != "ACTIVE":
            return self.error(422, "UNPROCESSABLE_ENTITY", "PLAN_STATUS_INVALID")
        if existing["status"] != "ACTIVE":
            return self.error(
                422, "UNPROCESSABLE_ENTITY", "SUBSCRIPTION_STATUS_INVALID", "revise action"
            )
        revision = {k: v for k, v in body.items() if k in ("plan_id", "quantity")}
        self.revisions[existing["id"]] = revision
        approve = (
            "https://www.sandbox.paypal.test/webapps/billing/subscriptions/update"
            f"?ba_token={existing['id']}"
        )
        return 200, {
            **revision,
            "plan_overridden": False,
            "links": [{"href": approve, "rel": "approve", "method": "GET"}],
        }

    def approve_revision(self, sub_id: str) -> dict[str, Any]:
        """The buyer approved the revision: the subscription has its new plan and quantity."""
        with self.lock:
            subscription = self.subscriptions[sub_id]
            subscription.update(self.revisions.pop(sub_id))
            subscription["update_time"] = paypal_time()
            return dict(subscription)

    def activate(self, sub_id: str, period_days: int = 30) -> dict[str, Any]:
        """The buyer approved the subscription and its first payment went through."""
        with self.lock:
            subscription = self.subscriptions[sub_id]
            now = datetime.now(UTC)
            subscription.update(
                status="ACTIVE",
                start_time=paypal_time(now),
                subscriber={"payer_id": "FAKEPAYER2345", "email_address": "buyer@example.com"},
                billing_info={
                    "outstanding_balance": money(0),
                    "last_payment": {"time": paypal_time(now), "amount": money(900)},
                    "next_billing_time": paypal_time(now + timedelta(days=period_days)),
                    "failed_payments_count": 0,
                },
            )
            return dict(subscription)

"""PayPal, through the official paypal-server-sdk (2.x, synchronous).

- Checkout is an order (intent CAPTURE) the buyer approves at PayPal; the server must then
  capture it. `capture` is idempotent: it sends `PayPal-Request-Id: <order id>:capture:...`
  (PayPal answers a repeated id with the first answer) and reads an already captured order
  instead of failing, so the return URL and the `CHECKOUT.ORDER.APPROVED` event, whichever
  comes first, capture once (`Payments.capture` also holds the payment's row lock).
- Every other mutating call carries a `PayPal-Request-Id` derived from our own operation
  (`<payment id>:checkout`, `<refund id>:refund`, ...); the SDK retries timeouts, 429 and 5xx
  twice with it.
- Webhooks are verified by PayPal's self-verification: RSA-SHA256 over
  `transmission_id|transmission_time|webhook_id|crc32(body)`, with the certificate from
  `PAYPAL-CERT-URL`, fetched only from PayPal's own hosts (an allow-list), cached, and used
  only while valid. If the certificate cannot be fetched, PayPal's postback
  (`/v1/notifications/verify-webhook-signature`) decides.
- What the SDK lacks (catalog products, the postback, the events list) goes through PayPal's
  REST API with the SDK's own OAuth token.
- Saved methods are PayPal's vault (Vault v3 payment tokens): an order asks PayPal to keep
  the buyer's wallet once paid (`store_in_vault: ON_SUCCESS`, under our customer's id), and
  an off-session charge is an order paid with the token (`vault_id`), completed at once. A
  manual capture is an order with intent AUTHORIZE: its approval authorizes it, and the
  authorization is captured (in full or in part) or voided later. A setup without payment
  is a setup token the buyer approves, which the service then turns into a payment token
  (PayPal returns the buyer to the service's completion page for it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests
from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from paypalserversdk.configuration import Configuration, Environment, Server
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from ...domain.facts import (
    Fact,
    FinalRefundStatus,
    PaymentMethodObserved,
    PaymentObserved,
    PaymentRef,
    RefundObserved,
)
from ..base import (
    Adapter,
    CaptureRequest,
    CatalogItem,
    CatalogRef,
    ChargeRequest,
    Checkout,
    CheckoutRequest,
    CustomerRequest,
    DeclineCode,
    ErrorKind,
    PaymentSnapshot,
    PaymentState,
    ProcessorError,
    Reader,
    RefundRequest,
    RefundResult,
    SetupRequest,
    WebhookEvent,
    WebhookVerificationError,
    attempt_timeout,
)
from . import events
from .shapes import link, minor_units, order_authorization, order_capture, to_value

#: Where PayPal's webhook signing certificates may come from (live and sandbox).
CERT_URL_PREFIXES: tuple[str, ...] = (
    "https://api.paypal.com/v1/notifications/certs/",
    "https://api-m.paypal.com/v1/notifications/certs/",
    "https://api.sandbox.paypal.com/v1/notifications/certs/",
    "https://api-m.sandbox.paypal.com/v1/notifications/certs/",
)
#: Capture failures the buyer can fix by approving again with another funding source, as
#: the service names them (`base.DeclineCode`).
DECLINES: dict[str, DeclineCode] = {
    "INSTRUMENT_DECLINED": "declined",
    "PAYER_ACTION_REQUIRED": "authentication_required",
    "TRANSACTION_REFUSED": "declined",
}
AUTHORIZATION_STATES: dict[str, PaymentState] = {
    "CREATED": "authorized",
    "PENDING": "pending",
    "CAPTURED": "succeeded",
    "PARTIALLY_CAPTURED": "succeeded",
    "VOIDED": "canceled",  # by the merchant, or when it expires
    "DENIED": "failed",
}
CAPTURE_STATES: dict[str, PaymentState] = {
    "COMPLETED": "succeeded",
    "DECLINED": "failed",
    "FAILED": "failed",
}
#: The refund statuses that end a refund (PENDING does not).
REFUND_STATES: dict[str, FinalRefundStatus] = {
    "COMPLETED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "canceled",
}


def _issues(exc: ApiException) -> set[str]:
    """The `details[].issue` codes of a PayPal error answer."""
    try:
        body = json.loads(exc.response.text or "{}")
    except ValueError:
        return set()
    return {str(d.get("issue")) for d in body.get("details") or [] if isinstance(d, dict)}


def _error(status: int, issues: set[str]) -> ProcessorError:
    """Our error for a PayPal answer; the message names the issue, never a credential."""
    named = f" ({', '.join(sorted(issues))})" if issues else ""
    declined = sorted(issues & DECLINES.keys())
    if declined:
        return ProcessorError(
            "declined", f"PayPal declined the payment{named}", decline_code=DECLINES[declined[0]]
        )
    if status in (401, 403):
        return ProcessorError(
            "authentication",
            "PayPal refused our credentials: check PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET",
        )
    if status == 429:
        return ProcessorError(
            "rate_limited", "PayPal is rate limiting requests; retry later", retry_after=2
        )
    if status >= 500:
        return ProcessorError("unavailable", f"PayPal answered {status}; retry later")
    if status in (400, 404, 409, 422):
        return ProcessorError("invalid_request", f"PayPal refused the request{named}")
    kind: ErrorKind = "error"
    return ProcessorError(kind, f"PayPal answered {status or 'an error'}")


@contextmanager
def paypal_errors() -> Iterator[None]:
    """Translate the SDK's (and requests') errors into ours."""
    try:
        yield
    except ApiException as exc:
        raise _error(exc.response_code or 0, _issues(exc)) from None
    except AuthValidationException:  # the SDK could not get an OAuth token
        raise _error(401, set()) from None
    except requests.RequestException:
        raise ProcessorError("unavailable", "PayPal could not be reached; retry later") from None


def amount_of_order(request: CheckoutRequest | ChargeRequest) -> dict[str, Any]:
    """What the buyer pays: with a promotion code's discount (this service's), the item
    total less the discount, as PayPal's breakdown says it."""
    discount = request.discount if isinstance(request, CheckoutRequest) else 0
    if not discount:
        return to_value(request.amount, request.currency)
    return {
        **to_value(request.amount - discount, request.currency),
        "breakdown": {
            "item_total": to_value(request.amount, request.currency),
            "discount": to_value(discount, request.currency),
        },
    }


def order_body(request: CheckoutRequest | ChargeRequest, paypal: dict[str, Any]) -> dict[str, Any]:
    """An order for one payment of ours (`custom_id`: events name it), paid with `paypal`
    (the buyer's approval, or a saved wallet); held (AUTHORIZE) for a manual capture."""
    return {
        "intent": "AUTHORIZE" if request.capture == "manual" else "CAPTURE",
        "purchase_units": [
            {
                "reference_id": request.payment_id,
                "custom_id": request.payment_id,
                "description": request.description[:127],
                "amount": amount_of_order(request),
            }
        ],
        "payment_source": {"paypal": paypal},
    }


class _Headers:
    """What the SDK's OAuth manager writes its Authorization header into."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def add_header(self, name: str, value: str) -> None:
        self.values[name] = value


class PayPalProcessor(Adapter):
    name = "paypal"
    #: Promotion codes: this service applies them itself, as a discount on the order.
    local_discounts: ClassVar[bool] = True
    capture_on_return = True
    verifies_over_network = True
    readers: ClassVar[Mapping[str, Reader]] = events.READERS

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        webhook_id: str,
        *,
        environment: str = "sandbox",
        api_base: str | None = None,
        max_retries: int = 2,
        budget_s: float = 20.0,
        cert_url_prefixes: tuple[str, ...] | None = None,
    ) -> None:
        self.webhook_id = webhook_id
        self.timeout = attempt_timeout(budget_s, max_retries)
        self.environment = environment
        live = environment == "live"
        config = Configuration(
            environment=Environment.PRODUCTION if live else Environment.SANDBOX,
            client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                o_auth_client_id=client_id, o_auth_client_secret=client_secret
            ),
            timeout=self.timeout,
            max_retries=max_retries,
            # Every POST we send carries a PayPal-Request-Id: retrying it is safe.
            retry_methods=["GET", "POST", "PATCH"],
        )
        if api_base:
            # Development and tests only (refused in production): a local PayPal.
            base = api_base.rstrip("/")
            config.environments = {  # shadows the class's mapping on this instance only
                Environment.SANDBOX: {Server.DEFAULT: base},
                Environment.PRODUCTION: {Server.DEFAULT: base},
            }
        self.client = PaypalServersdkClient(config=config)
        self.base_url = str(config.get_base_uri())
        self.cert_url_prefixes = cert_url_prefixes or CERT_URL_PREFIXES
        self._certs: dict[str, x509.Certificate] = {}
        self._certs_lock = threading.Lock()
        self.http = requests.Session()

    # -- calls -----------------------------------------------------------------------------

    def call(self, call: Callable[..., Any], *args: Any, **options: Any) -> dict[str, Any]:
        """One SDK call; the answer as PayPal's JSON (the SDK's models are not needed).

        Most SDK methods take one dict of options (`**options` here); a few take the
        object's id alone (`deactivate_billing_plan(id)`): pass it as `*args`.
        """
        with paypal_errors():
            response = call(*args) if args else call(options)
        text = response.text
        return json.loads(text) if text else {}

    def rest(
        self, method: str, path: str, body: Any = None, request_id: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """PayPal's REST API where the SDK has no controller, with the SDK's OAuth token."""
        headers = _Headers()
        with paypal_errors():
            if not self.client.oauth_2.is_valid():  # fetches a token, or refreshes it
                raise _error(401, set())
            self.client.oauth_2.apply(headers)
            if request_id:
                headers.values["PayPal-Request-Id"] = request_id
            url = path if path.startswith(self.base_url) else self.base_url + path
            if "://" in path and url != path:
                # Only PayPal's own links (paging) are followed: the token goes nowhere else.
                raise ProcessorError("error", "PayPal named a link off its API host")
            response = self.http.request(
                method,
                url,
                json=body,
                headers={**headers.values, "Accept": "application/json"},
                timeout=self.timeout,
            )
        if response.status_code >= 400 and response.status_code != 404:
            try:
                issues = {str(d.get("issue")) for d in response.json().get("details") or []}
            except ValueError:
                issues = set()
            raise _error(response.status_code, issues)
        try:
            return response.status_code, response.json() if response.content else {}
        except ValueError:
            raise ProcessorError(
                "error", f"PayPal answered {response.status_code} without JSON"
            ) from None

    # -- checkout, capture, refunds ----------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        paypal: dict[str, Any] = {
            "experience_context": {
                "return_url": request.success_url,
                "cancel_url": request.cancel_url,
                "user_action": "PAY_NOW",
                "shipping_preference": "NO_SHIPPING",
            }
        }
        if request.customer_email:
            paypal["email_address"] = request.customer_email
        if request.save_payment_method and request.processor_customer_id:
            paypal["attributes"] = {
                "customer": {"id": request.processor_customer_id},
                "vault": {
                    "store_in_vault": "ON_SUCCESS",
                    "usage_type": "MERCHANT",
                    "customer_type": "CONSUMER",
                    "permit_multiple_payment_tokens": True,
                },
            }
        body = order_body(request, paypal)
        order = self.call(
            self.client.orders.create_order,
            body=body,
            paypal_request_id=f"{request.payment_id}:checkout",
            prefer="return=representation",
        )
        return Checkout(
            processor_ref=str(order["id"]),
            url=link(order, "payer-action", "approve"),
        )

    def _snapshot(self, order: Mapping[str, Any]) -> PaymentSnapshot:
        capture = order_capture(order) or {}
        authorization = {} if capture else order_authorization(order) or {}
        units = order.get("purchase_units") or [{}]
        amount = capture.get("amount") or authorization.get("amount") or units[0].get("amount")
        amount = amount or {}
        status: PaymentState = "pending"
        if order.get("status") == "VOIDED":
            status = "canceled"
        elif capture:
            status = CAPTURE_STATES.get(str(capture.get("status")), "pending")
        elif authorization:
            status = AUTHORIZATION_STATES.get(str(authorization.get("status")), "pending")
        found = capture or authorization
        return PaymentSnapshot(
            processor_ref=str(order["id"]),
            status=status,
            amount=minor_units(amount),
            currency=str(amount.get("currency_code", "")).lower(),
            processor_payment_id=found.get("id"),
            livemode=self.environment == "live",
            failure_code=(found.get("status_details") or {}).get("reason"),
        )

    def _payment_snapshot(self, payment_id: str, payment: Mapping[str, Any]) -> PaymentSnapshot:
        """An authorization or a capture (Payments v2: a capture has `final_capture`) as a
        payment."""
        amount = payment.get("amount") or {}
        states = CAPTURE_STATES if "final_capture" in payment else AUTHORIZATION_STATES
        return PaymentSnapshot(
            processor_ref=payment_id,
            status=states.get(str(payment.get("status")), "pending"),
            amount=minor_units(amount),
            currency=str(amount.get("currency_code", "")).lower(),
            processor_payment_id=str(payment["id"]),
            livemode=self.environment == "live",
        )

    def retrieve_payment(self, processor_ref: str) -> PaymentSnapshot:
        return self._snapshot(self.call(self.client.orders.get_order, id=processor_ref))

    def read_back(self, payment: PaymentRef) -> list[Fact]:
        """The order's refunds (Orders v2 lists them beside its captures): what is
        refunded (refunds not failed or canceled) and each refund's outcome. PayPal's
        disputes are not listed by order here: their events and `reconcile --since` bring
        them."""
        if not payment.processor_ref:
            return []
        order = self.call(self.client.orders.get_order, id=payment.processor_ref)
        units = order.get("purchase_units") or [{}]
        refunds = (units[0].get("payments") or {}).get("refunds") or []
        facts: list[Fact] = [
            RefundObserved(
                processor_refund_id=str(refund["id"]),
                refund_id=refund.get("invoice_id"),
                status=REFUND_STATES[refund["status"]],
            )
            for refund in refunds
            if refund.get("status") in REFUND_STATES
        ]
        refunded = sum(
            minor_units(refund.get("amount"))
            for refund in refunds
            if refund.get("status") not in ("FAILED", "CANCELLED")
        )
        if refunded:
            facts.insert(0, PaymentObserved(payment, paid=True, refunded=refunded))
        return facts

    def capture(self, processor_ref: str) -> PaymentSnapshot:
        """Capture the approved order, once (a captured one is read, not captured again).

        The request id names the order and its approval (`update_time`): concurrent or
        repeated captures of one approval share it, and a buyer who approves again after a
        decline gets a new attempt instead of PayPal's stored decline.
        """
        order = self.call(self.client.orders.get_order, id=processor_ref)
        status = order.get("status")
        if status == "COMPLETED" or order_capture(order):
            return self._snapshot(order)
        if status != "APPROVED":
            raise ProcessorError(
                "invalid_request",
                f"the PayPal order is {status}: the buyer has not approved it (ORDER_NOT_APPROVED)",
            )
        approval = order.get("update_time") or order.get("create_time") or "approved"
        # An AUTHORIZE order's approval is authorized (held), not captured.
        held = order.get("intent") == "AUTHORIZE"
        options = {
            "id": processor_ref,
            "paypal_request_id": f"{processor_ref}:{'authorize' if held else 'capture'}:{approval}",
            "prefer": "return=representation",
        }
        with paypal_errors():
            try:
                if held:
                    response = self.client.orders.authorize_order(options)
                else:
                    response = self.client.orders.capture_order(options)
            except ApiException as exc:
                if not {"ORDER_ALREADY_CAPTURED", "ORDER_ALREADY_AUTHORIZED"} & _issues(exc):
                    raise
                response = self.client.orders.get_order({"id": processor_ref})
        return self._snapshot(json.loads(response.text))

    def refund(self, request: RefundRequest) -> RefundResult:
        body: dict[str, Any] = {
            "amount": to_value(request.amount, request.currency),
            # Events about the refund name our refund (and, through the capture, our payment).
            "invoice_id": request.refund_id,
        }
        if request.reason:
            body["note_to_payer"] = request.reason[:255]
        refund = self.call(
            self.client.payments.refund_captured_payment,
            capture_id=request.processor_payment_id,
            body=body,
            paypal_request_id=f"{request.refund_id}:refund",
            prefer="return=representation",
        )
        return RefundResult(
            processor_refund_id=str(refund["id"]),
            status=REFUND_STATES.get(str(refund.get("status")), "pending"),
        )

    # -- saved methods (the vault), held amounts -------------------------------------------

    def ensure_customer(self, request: CustomerRequest) -> str:
        """PayPal's vault takes the merchant's own customer id (up to 22 letters, digits,
        `_` and `-`), and makes the customer when it first keeps a method: no call."""
        digest = hashlib.sha256(request.customer_id.encode()).digest()
        return "c" + base64.b32encode(digest).decode().lower().rstrip("=")[:21]

    def create_setup(self, request: SetupRequest) -> Checkout:
        """A setup token for the buyer's wallet: approved at PayPal, which then returns the
        buyer to the service's completion page (`complete_setup`)."""
        token = self.call(
            self.client.vault.create_setup_token,
            body={
                "customer": {"id": request.processor_customer_id},
                "payment_source": {
                    "paypal": {
                        "usage_type": "MERCHANT",
                        "customer_type": "CONSUMER",
                        "permit_multiple_payment_tokens": True,
                        "experience_context": {
                            "return_url": request.completion_url,
                            "cancel_url": request.cancel_url,
                            "shipping_preference": "NO_SHIPPING",
                        },
                    }
                },
            },
            paypal_request_id=f"{request.setup_id}:setup",
        )
        return Checkout(processor_ref=str(token["id"]), url=link(token, "approve"))

    def complete_setup(self, approval: str) -> PaymentMethodObserved:
        """The approved setup token, made a payment token (once per setup token)."""
        token = self.call(
            self.client.vault.create_payment_token,
            body={"payment_source": {"token": {"id": approval, "type": "SETUP_TOKEN"}}},
            paypal_request_id=f"{approval}:token",
        )
        kept = events.token_fact(token)
        if kept is None:
            raise ProcessorError("error", "PayPal's payment token names no customer")
        return kept

    def charge_saved(self, request: ChargeRequest) -> PaymentSnapshot:
        body = order_body(request, {"vault_id": request.processor_payment_method_id})
        order = self.call(
            self.client.orders.create_order,
            body=body,
            paypal_request_id=f"{request.payment_id}:charge",
            prefer="return=representation",
        )
        return self._snapshot(order)

    def capture_authorized(self, request: CaptureRequest) -> PaymentSnapshot:
        capture = self.call(
            self.client.payments.capture_authorized_payment,
            authorization_id=request.processor_payment_id,
            body={
                "amount": to_value(request.amount, request.currency),
                "final_capture": True,  # the rest of the hold is released
                "invoice_id": request.payment_id,
            },
            paypal_request_id=f"{request.payment_id}:capture:{request.operation_id}",
            prefer="return=representation",
        )
        return self._payment_snapshot(request.payment_id, capture)

    def cancel_authorized(self, payment_id: str, processor_payment_id: str) -> PaymentSnapshot:
        voided = self.call(
            self.client.payments.void_payment,
            authorization_id=processor_payment_id,
            paypal_request_id=f"{payment_id}:void",
            prefer="return=representation",
        )
        if not voided:  # 204: voided, nothing to show
            voided = self.call(
                self.client.payments.get_authorized_payment, authorization_id=processor_payment_id
            )
        return self._payment_snapshot(payment_id, voided)

    def detach_payment_method(self, processor_payment_method_id: str) -> None:
        with paypal_errors():
            try:
                self.client.vault.delete_payment_token(processor_payment_method_id)
            except ApiException as exc:
                if exc.response_code != 404:  # forgotten already
                    raise

    # -- webhooks ----------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        names = (
            "transmission-id",
            "transmission-time",
            "transmission-sig",
            "cert-url",
            "auth-algo",
        )
        values = [headers.get(f"paypal-{n}") for n in names]
        if not all(values):
            raise WebhookVerificationError("missing PayPal transmission headers")
        transmission_id, transmission_time, signature, cert_url, algorithm = map(str, values)
        if algorithm != "SHA256withRSA":
            raise WebhookVerificationError(f"unsupported PAYPAL-AUTH-ALGO {algorithm!r}")
        if not cert_url.startswith(self.cert_url_prefixes) or ".." in cert_url:
            raise WebhookVerificationError("PAYPAL-CERT-URL is not one of PayPal's")
        try:
            signed = base64.b64decode(signature, validate=True)
        except ValueError:
            raise WebhookVerificationError("malformed PAYPAL-TRANSMISSION-SIG") from None
        message = f"{transmission_id}|{transmission_time}|{self.webhook_id}|{zlib.crc32(body)}"
        try:
            certificate = self._certificate(cert_url)
        except (requests.RequestException, ValueError):
            certificate = None
        if certificate is None:
            self._postback(body, transmission_id, transmission_time, signature, cert_url, algorithm)
        else:
            now = datetime.now(UTC)
            if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
                raise WebhookVerificationError("PayPal's signing certificate is not valid now")
            key = certificate.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise WebhookVerificationError("PayPal's signing certificate has no RSA key")
            try:
                key.verify(signed, message.encode(), padding.PKCS1v15(), SHA256())
            except InvalidSignature:
                raise WebhookVerificationError("the PayPal signature does not match") from None
        try:
            return self.event_from_payload(body)
        except (ValueError, KeyError, TypeError):
            raise WebhookVerificationError("the body is not a PayPal event") from None

    def _certificate(self, url: str) -> x509.Certificate:
        """PayPal's signing certificate, fetched once per URL (PayPal rotates by URL)."""
        with self._certs_lock:
            cached = self._certs.get(url)
        if cached is not None:
            return cached
        response = self.http.get(url, timeout=10, allow_redirects=False)
        response.raise_for_status()
        certificate = x509.load_pem_x509_certificate(response.content)
        with self._certs_lock:
            if len(self._certs) > 32:
                self._certs.clear()
            self._certs[url] = certificate
        return certificate

    def _postback(
        self, body: bytes, transmission_id: str, time: str, signature: str, cert_url: str, algo: str
    ) -> None:
        """PayPal's own verification, when its certificate could not be fetched."""
        try:
            event = json.loads(body)
        except ValueError:
            raise WebhookVerificationError("the body is not a PayPal event") from None
        try:
            _, answer = self.rest(
                "POST",
                "/v1/notifications/verify-webhook-signature",
                {
                    "auth_algo": algo,
                    "cert_url": cert_url,
                    "transmission_id": transmission_id,
                    "transmission_sig": signature,
                    "transmission_time": time,
                    "webhook_id": self.webhook_id,
                    "webhook_event": event,
                },
            )
        except ProcessorError as exc:
            raise WebhookVerificationError(f"PayPal's verification failed: {exc.message}") from None
        if answer.get("verification_status") != "SUCCESS":
            raise WebhookVerificationError("PayPal says the signature does not match")

    def event_from_payload(self, body: bytes) -> WebhookEvent:
        return events.parse(body)

    def recent_events(self, since: datetime) -> Iterator[bytes]:
        """PayPal's webhook events list (it keeps 30 days), page by page."""
        start = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        url: str | None = f"/v1/notifications/webhooks-events?page_size=100&start_time={start}"
        while url:
            _, page = self.rest("GET", url)
            for event in page.get("events") or []:
                yield json.dumps(event).encode()
            url = link(page, "next")

    # -- catalog -----------------------------------------------------------------------------

    def sync_product(self, item: CatalogItem) -> CatalogRef | None:
        """Nothing to create for a product: PayPal orders carry their amount (plans: the
        subscription side's)."""
        return None


ADAPTER = PayPalProcessor

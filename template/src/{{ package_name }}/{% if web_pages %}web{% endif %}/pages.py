"""Pages: pricing, checkout, success and cancel. Each has a per-request CSP nonce: only
scripts and styles we sign can run. The service never serves a card field of its own:
checkout happens on the processor's page."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ..api.deps import PaymentsDep, services
from ..api.fields import PathId, QueryId
from ..domain.errors import NotFound
from ..domain.payments import NewCheckout, Payments, Started
from ..errors import ApiError
from ..ids import new_id
from ..outbound.admin import told
from ..processors.base import CheckoutMode, ProcessorError

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
FINAL_STATUSES = {"succeeded", "failed", "canceled", "refunded", "partially_refunded", "disputed"}
#: What the customer reads of each merchant event about their payment or subscription.
EVENT_LABELS = {
    "payment.succeeded": "Payment received",
    "payment.failed": "Payment failed",
    "payment.canceled": "Checkout canceled",
    "payment.partially_refunded": "Partly refunded",
    "payment.refunded": "Refunded",
    "dispute.opened": "Payment disputed",
    "dispute.closed": "Dispute closed",
    "subscription.activated": "Subscription started",
    "subscription.updated": "Subscription changed",
    "subscription.past_due": "Renewal payment failed",
    "subscription.canceled": "Subscription ended",
    "subscription.paused": "Subscription paused",
    "subscription.resumed": "Subscription resumed",
}


def happened(payments: Payments, object_id: str) -> list[str]:
    """What the merchant has been told of this object, as the customer would read it."""
    return [
        EVENT_LABELS[t]
        for t in told(payments.sessions, [object_id])[object_id]
        if t in EVENT_LABELS
    ]


def page_csp(nonce: str, script_src: str = "", frame_src: str = "", connect_src: str = "") -> str:
    """A strict page policy; the checkout page adds its processor's script and frame hosts."""
    frames = frame_src or "'none'"
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}' {script_src}; "
        f"style-src 'self' 'nonce-{nonce}'; frame-src {frames}; "
        f"img-src 'self' data:; connect-src 'self' {connect_src}; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    )


def page(request: Request, name: str, nonce: str, **context: Any) -> HTMLResponse:
    """A page of templates/, with what every page shows."""
    environment = services(request).settings.environment
    return templates.TemplateResponse(
        request,
        name,
        {"title": request.app.title, "nonce": nonce, "env": environment, **context},
    )


def render(request: Request, name: str, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    response = page(request, name, nonce, **context)
    response.headers["Content-Security-Policy"] = page_csp(nonce)
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return render(request, "index.html")


@router.get("/pricing", response_class=HTMLResponse)
def pricing(request: Request) -> HTMLResponse:
    return render(request, "pricing.html", products=list(services(request).products.values()))


async def form_fields(request: Request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}


def start(request: Request, key: str, mode: CheckoutMode) -> Started:
    """A checkout for a catalog product, at the default processor."""
    found = services(request)
    product = found.products.get(key)
    if product is None:
        raise ApiError(422, "validation_error", f"no product {key!r}")
    payment_id = new_id("pay")
    success_url, cancel_url = found.settings.return_urls(payment_id)
    return found.payments.create_checkout(
        NewCheckout(
            payment_id=payment_id,
            amount=product.amount,
            currency=product.currency,
            description=product.name,
            processor=found.settings.default_processor,
            success_url=success_url,
            cancel_url=cancel_url,
            product_key=product.key,
            mode=mode,
        )
    )


async def hosted_checkout(request: Request, key: str) -> Response:
    started = await run_in_threadpool(start, request, key, "hosted")
    if started.payment.checkout_url is None:
        raise ApiError(502, "processor_error", "the processor gave no checkout page")
    return RedirectResponse(started.payment.checkout_url, status_code=303)


@router.post("/checkout")
async def start_checkout(request: Request) -> Response:
    """A buyer chose a product: go to the processor's checkout page (hosted)."""
    return await hosted_checkout(request, (await form_fields(request)).get("product", ""))


def _payment(payments: Payments, payment_id: str) -> Any:
    try:
        return payments.get(payment_id)
    except NotFound:
        raise ApiError(404, "not_found", "no such payment") from None


@router.get("/checkout/success", response_class=HTMLResponse)
def success(request: Request, payment_id: QueryId, payments: PaymentsDep) -> HTMLResponse:
    payment = _payment(payments, payment_id)
    adapter = payments.processors.get(payment.processor)
    if payment.status == "pending" and adapter is not None and adapter.capture_on_return:
        # The buyer approved at the processor (PayPal): capture now, once. If the processor
        # is slow or refuses, the page waits for the approval event, which captures too.
        try:
            payment = payments.capture(payment_id)
        except ProcessorError as exc:
            log.warning(
                "capture on return failed: %s", exc.message, extra={"payment_id": payment_id}
            )
    return render(
        request,
        "success.html",
        payment=payment,
        final=payment.status in FINAL_STATUSES,
        happened=happened(payments, payment_id),
    )


@router.get("/checkout/cancel", response_class=HTMLResponse)
def cancel(request: Request, payment_id: QueryId, payments: PaymentsDep) -> HTMLResponse:
    return render(request, "cancel.html", payment=_payment(payments, payment_id))


@router.get("/checkout/status/{payment_id}")
def status(payment_id: PathId, payments: PaymentsDep) -> dict[str, Any]:
    """What the success page polls: the webhook may arrive after the buyer's redirect."""
    payment = _payment(payments, payment_id)
    return {
        "status": payment.status,
        "final": payment.status in FINAL_STATUSES,
        "happened": happened(payments, payment_id),
    }

"""Pages: pricing, checkout, success and cancel. Each has a per-request CSP nonce: only
scripts and styles we sign can run. The service never serves a card field of its own:
checkout happens on the processor's page."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ..domain.errors import NotFound
from ..domain.payments import NewCheckout, Payments, Started
from ..errors import ApiError
from ..models import new_id
from ..processors.base import CheckoutMode

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
FINAL_STATUSES = {"succeeded", "failed", "canceled", "refunded", "partially_refunded", "disputed"}


def page_csp(nonce: str, script_src: str = "", frame_src: str = "", connect_src: str = "") -> str:
    """A strict page policy; the checkout page adds its processor's script and frame hosts."""
    frames = frame_src or "'none'"
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}' {script_src}; "
        f"style-src 'self' 'nonce-{nonce}'; frame-src {frames}; "
        f"img-src 'self' data:; connect-src 'self' {connect_src}; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    )


def render(request: Request, name: str, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    settings = request.app.state.settings
    response = templates.TemplateResponse(
        request,
        name,
        {"title": request.app.title, "nonce": nonce, "env": settings.environment, **context},
    )
    response.headers["Content-Security-Policy"] = page_csp(nonce)
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return render(request, "index.html")


@router.get("/pricing", response_class=HTMLResponse)
def pricing(request: Request) -> HTMLResponse:
    return render(request, "pricing.html", products=list(request.app.state.products.values()))


#: What Stripe's embedded Checkout needs, on its page only.
STRIPE_SCRIPT = "https://js.stripe.com"
STRIPE_FRAMES = "https://js.stripe.com https://*.js.stripe.com https://checkout.stripe.com"
STRIPE_CONNECT = "https://api.stripe.com https://checkout.stripe.com"


def _embedded(request: Request) -> bool:
    """Stripe Checkout is embedded when Stripe is the processor and its publishable key is set."""
    settings = request.app.state.settings
    return settings.default_processor == "stripe" and bool(
        getattr(settings, "stripe_publishable_key", None)
    )


async def form_fields(request: Request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}


def _start(request: Request, key: str, mode: CheckoutMode) -> Started:
    product = request.app.state.products.get(key)
    if product is None:
        raise ApiError(422, "validation_error", f"no product {key!r}")
    state = request.app.state
    payments: Payments = state.payments
    payment_id = new_id("pay")
    success_url, cancel_url = state.settings.return_urls(payment_id)
    return payments.create_checkout(
        NewCheckout(
            payment_id=payment_id,
            amount=product.amount,
            currency=product.currency,
            description=product.name,
            processor=state.settings.default_processor,
            success_url=success_url,
            cancel_url=cancel_url,
            product_key=product.key,
            mode=mode,
        )
    )


@router.post("/checkout")
async def start_checkout(request: Request) -> Response:
    """A buyer chose a product: go to the processor's checkout (hosted, or embedded here)."""
    key = (await form_fields(request)).get("product", "")
    if _embedded(request):
        return RedirectResponse(f"/checkout/pay?product={quote(key)}", status_code=303)
    started = await run_in_threadpool(_start, request, key, "hosted")
    if started.payment.checkout_url is None:
        raise ApiError(502, "processor_error", "the processor gave no checkout page")
    return RedirectResponse(started.payment.checkout_url, status_code=303)


@router.get("/checkout/pay", response_class=HTMLResponse)
def pay(request: Request, product: str) -> HTMLResponse:
    """Stripe's embedded Checkout: the only page that loads a processor's script."""
    if not _embedded(request) or product not in request.app.state.products:
        raise ApiError(404, "not_found", "no embedded checkout here")
    nonce = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(
        request,
        "pay.html",
        {
            "title": request.app.title,
            "nonce": nonce,
            "env": request.app.state.settings.environment,
            "product": request.app.state.products[product],
            "publishable_key": request.app.state.settings.stripe_publishable_key,
        },
    )
    response.headers["Content-Security-Policy"] = page_csp(
        nonce, script_src=STRIPE_SCRIPT, frame_src=STRIPE_FRAMES, connect_src=STRIPE_CONNECT
    )
    return response


@router.post("/checkout/embedded")
async def embedded_session(request: Request) -> dict[str, str]:
    """Create the embedded Checkout Session; stripe.js asks for its client secret."""
    if not _embedded(request):
        raise ApiError(404, "not_found", "no embedded checkout here")
    key = (await form_fields(request)).get("product", "")
    started = await run_in_threadpool(_start, request, key, "embedded")
    if started.client_secret is None:
        raise ApiError(502, "processor_error", "the processor gave no client secret")
    return {"clientSecret": started.client_secret}


def _payment(request: Request, payment_id: str) -> Any:
    payments: Payments = request.app.state.payments
    try:
        return payments.get(payment_id)
    except NotFound:
        raise ApiError(404, "not_found", "no such payment") from None


@router.get("/checkout/success", response_class=HTMLResponse)
def success(request: Request, payment_id: str) -> HTMLResponse:
    payment = _payment(request, payment_id)
    return render(request, "success.html", payment=payment, final=payment.status in FINAL_STATUSES)


@router.get("/checkout/cancel", response_class=HTMLResponse)
def cancel(request: Request, payment_id: str) -> HTMLResponse:
    return render(request, "cancel.html", payment=_payment(request, payment_id))


@router.get("/checkout/status/{payment_id}")
def status(request: Request, payment_id: str) -> dict[str, Any]:
    """What the success page polls: the webhook may arrive after the buyer's redirect."""
    payment = _payment(request, payment_id)
    return {"status": payment.status, "final": payment.status in FINAL_STATUSES}

"""Pages: pricing, checkout, success and cancel. Each has a per-request CSP nonce: only
scripts and styles we sign can run. The service never serves a card field of its own:
checkout happens on the processor's page."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ..domain.errors import NotFound
from ..domain.payments import NewCheckout, Payments
from ..errors import ApiError
from ..models import new_id

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
FINAL_STATUSES = {"succeeded", "failed", "canceled", "refunded", "partially_refunded", "disputed"}


def page_csp(nonce: str, script_src: str = "", frame_src: str = "") -> str:
    """A strict page policy; checkout pages add their processor's script and frame hosts."""
    frames = frame_src or "'none'"
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}' {script_src}; "
        f"style-src 'self' 'nonce-{nonce}'; frame-src {frames}; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'; object-src 'none'"
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


@router.post("/checkout")
async def start_checkout(request: Request) -> Response:
    """A buyer chose a product: create the payment and go to the processor's checkout."""
    form = parse_qs((await request.body()).decode())
    key = form.get("product", [""])[0]
    product = request.app.state.products.get(key)
    if product is None:
        raise ApiError(422, "validation_error", f"no product {key!r}")
    state = request.app.state
    payments: Payments = state.payments
    payment_id = new_id("pay")
    base = state.settings.public_base_url.rstrip("/")
    payment = await run_in_threadpool(
        payments.create_checkout,
        NewCheckout(
            payment_id=payment_id,
            amount=product.amount,
            currency=product.currency,
            description=product.name,
            processor=state.settings.default_processor,
            success_url=f"{base}/checkout/success?payment_id={payment_id}",
            cancel_url=f"{base}/checkout/cancel?payment_id={payment_id}",
            product_key=product.key,
        ),
    )
    if payment.checkout_url is None:
        raise ApiError(502, "processor_error", "the processor gave no checkout page")
    return RedirectResponse(payment.checkout_url, status_code=303)


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

"""POST /api/checkout, GET /api/payments/{id}, POST /api/payments/{id}/capture, /cancel and
/refunds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from .. import limits
from ..catalog import Product
from ..domain.errors import Unprocessable
from ..domain.idempotency import derived_id
from ..domain.payments import NewCheckout
from ..domain.views import payment_view, refund_view
from .deps import IdempotencyDep, PaymentsDep, ProductsDep, SettingsDep
from .fields import PathId
from .idempotent import idempotent
from .security import require_api_token

router = APIRouter(prefix="/api", tags=["payments"], dependencies=[Depends(require_api_token)])
#: A plausible email address (the processor checks it for real).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class CheckoutBody(BaseModel):
    # Unknown fields are refused: nothing else (a card number, say) is ever accepted.
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(None, gt=0, le=99_999_999, description="minor units")
    currency: str | None = Field(None, pattern="^[A-Za-z]{3}$")
    description: str | None = Field(None, min_length=1, max_length=limits.DESCRIPTION)
    processor: str | None = Field(None, max_length=limits.PROCESSOR)
    customer_email: str | None = Field(None, max_length=limits.EMAIL, pattern=EMAIL_PATTERN)
    reference: str | None = Field(None, max_length=limits.REFERENCE)
    product: str | None = Field(
        None, max_length=limits.CATALOG_KEY, description="a catalog.yml product key"
    )
    customer_id: str | None = Field(
        None, max_length=limits.ID, pattern=limits.ID_PATTERN, description="who pays (cus_...)"
    )
    save_payment_method: bool = Field(
        False, description="keep the method for charges without the customer (needs customer_id)"
    )
    capture: Literal["automatic", "manual"] = Field(
        "automatic", description='"manual": hold the amount, capture it later'
    )
    promotion_code: str | None = Field(
        None, pattern=limits.PROMOTION_CODE, description="a catalog.yml coupon's code"
    )


class CaptureBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(
        None, gt=0, description="minor units; default: all that is held (the rest is released)"
    )


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(None, gt=0, description="minor units; default: all that is left")
    reason: str | None = Field(None, max_length=limits.REFUND_REASON)


def priced(body: CheckoutBody, products: Mapping[str, Product]) -> tuple[int, str, str, str | None]:
    """(amount, currency, description, product key) from a catalog key or explicit values."""
    if body.product is not None:
        if body.amount is not None or body.currency is not None:
            raise Unprocessable("give either a catalog product or an amount and currency")
        product = products.get(body.product)
        if product is None:
            raise Unprocessable(f"no product {body.product!r} in catalog.yml")
        return product.amount, product.currency, body.description or product.name, product.key
    if body.amount is None or body.currency is None or body.description is None:
        raise Unprocessable("amount, currency and description are required without a product")
    return body.amount, body.currency.lower(), body.description, None


@router.post("/checkout", status_code=201)
def create_checkout(
    body: CheckoutBody,
    request: Request,
    payments: PaymentsDep,
    keys: IdempotencyDep,
    settings: SettingsDep,
    products: ProductsDep,
) -> Response:
    def run(key: str | None) -> tuple[int, dict[str, Any]]:
        amount, currency, description, product = priced(body, products)
        payment_id = derived_id("pay", "POST /api/checkout", key)
        success_url, cancel_url = settings.return_urls(payment_id)
        payment = payments.create_checkout(
            NewCheckout(
                payment_id=payment_id,
                amount=amount,
                currency=currency,
                description=description,
                processor=body.processor or settings.default_processor,
                success_url=success_url,
                cancel_url=cancel_url,
                customer_email=body.customer_email,
                reference=body.reference,
                product_key=product,
                customer_id=body.customer_id,
                save_payment_method=body.save_payment_method,
                capture=body.capture,
                promotion_code=body.promotion_code,
            )
        ).payment
        return 201, {
            "payment_id": payment.id,
            "status": payment.status,
            "processor": payment.processor,
            "checkout_url": payment.checkout_url,
        }

    return idempotent(request, keys, body, run)


@router.get("/payments/{payment_id}")
def get_payment(payment_id: PathId, payments: PaymentsDep) -> dict[str, Any]:
    return payment_view(payments.get(payment_id))


@router.post("/payments/{payment_id}/capture")
def capture_payment(
    payment_id: PathId,
    request: Request,
    payments: PaymentsDep,
    keys: IdempotencyDep,
    body: CaptureBody | None = None,
) -> Response:
    """Capture what an `authorized` payment holds (all of it, or `amount` of it: the rest is
    released; more than was held is refused). After the buyer's return: capture the
    approved payment (PayPal), or bring it up to date from the processor. Once, however
    often it is asked."""
    amount = body.amount if body is not None else None

    def run(key: str | None) -> tuple[int, dict[str, Any]]:
        operation = derived_id("cap", f"POST /api/payments/{payment_id}/capture", key)
        return 200, payment_view(payments.capture(payment_id, amount, operation))

    return idempotent(request, keys, body, run)


@router.post("/payments/{payment_id}/cancel")
def cancel_payment(
    payment_id: PathId, request: Request, payments: PaymentsDep, keys: IdempotencyDep
) -> Response:
    """Release what an `authorized` payment holds (or give up one waiting for the
    customer's authentication): it becomes `canceled`, and nothing is charged."""

    def run(_key: str | None) -> tuple[int, dict[str, Any]]:
        return 200, payment_view(payments.cancel(payment_id))

    return idempotent(request, keys, None, run)


@router.post("/payments/{payment_id}/refunds", status_code=201)
def create_refund(
    payment_id: PathId,
    body: RefundBody,
    request: Request,
    payments: PaymentsDep,
    keys: IdempotencyDep,
) -> Response:
    def run(key: str | None) -> tuple[int, dict[str, Any]]:
        refund_id = derived_id("re", f"POST /api/payments/{payment_id}/refunds", key)
        refund = payments.refund(payment_id, refund_id, body.amount, body.reason)
        return 201, refund_view(refund)

    return idempotent(request, keys, body, run)

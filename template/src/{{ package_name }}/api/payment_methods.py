"""A customer's saved payment methods, and charges of them without a checkout page.

- `GET /api/customers/{id}/payment-methods`: the methods the processors keep for them.
- `POST /api/customers/{id}/payment-methods/setup` -> `{"url"}`: the processor's page
  where the customer saves one without paying.
- `POST .../payment-methods/{pm}/default`, `DELETE .../payment-methods/{pm}` (the
  processor forgets it first).
- `POST /api/customers/{id}/charges`: an off-session charge of the default (or given)
  method, under a required `Idempotency-Key`: a retry never charges twice.
- `GET /payment-methods/setup/complete`: where PayPal returns the customer after they
  approved a setup, which the service completes before sending them on (a signed link).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from .. import limits
from ..domain.idempotency import derived_id
from ..domain.payment_methods import Wallet
from ..domain.payments import NewCharge
from ..domain.views import payment_method_view, payment_view
from ..errors import ERROR_RESPONSES, ApiError
from ..links import SetupReturns
from .deps import IdempotencyDep, PaymentsDep, Services, SettingsDep
from .fields import PathId
from .idempotent import idempotent
from .security import require_api_token

router = APIRouter(
    prefix="/api/customers/{customer_id}",
    tags=["payment methods"],
    dependencies=[Depends(require_api_token)],
)
#: Where a processor returns the customer to (a browser, not the merchant: no token).
pages = APIRouter(include_in_schema=False)
#: An absolute http(s) URL (where a processor sends the customer back).
URL_PATTERN = r"^https?://[^\s]+$"
URL_LENGTH = 2048


async def _wallet(connection: HTTPConnection) -> Wallet:
    found: Wallet = connection.app.state.wallet
    return found


WalletDep = Annotated[Wallet, Depends(_wallet)]


def install(app: FastAPI, services: Services) -> None:
    returns = SetupReturns.of(services.settings)
    app.state.wallet = Wallet(services.sessions, services.payments, returns.make)
    app.state.setup_returns = returns
    app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(pages)


class SetupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processor: str | None = Field(None, max_length=limits.PROCESSOR)
    success_url: str = Field(
        max_length=URL_LENGTH,
        pattern=URL_PATTERN,
        description="your page the customer comes back to once the method is saved",
    )
    cancel_url: str | None = Field(
        None, max_length=URL_LENGTH, pattern=URL_PATTERN, description="default: success_url"
    )


class ChargeBody(BaseModel):
    # Unknown fields are refused: nothing else (a card number, say) is ever accepted.
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=99_999_999, description="minor units")
    currency: str = Field(pattern="^[A-Za-z]{3}$")
    description: str = Field(min_length=1, max_length=limits.DESCRIPTION)
    payment_method: str | None = Field(
        None,
        max_length=limits.ID,
        pattern=limits.ID_PATTERN,
        description="a saved method's id (pm_...); default: the customer's default",
    )
    capture: Literal["automatic", "manual"] = Field(
        "automatic", description='"manual": hold the amount, capture it later'
    )
    reference: str | None = Field(None, max_length=limits.REFERENCE)
    return_url: str | None = Field(
        None,
        max_length=URL_LENGTH,
        pattern=URL_PATTERN,
        description="where the customer comes back to after authenticating, if asked to",
    )


@router.get("/payment-methods")
def list_methods(customer_id: PathId, wallet: WalletDep) -> dict[str, Any]:
    return {"data": [payment_method_view(m) for m in wallet.list(customer_id)]}


@router.post("/payment-methods/setup", status_code=201)
def setup(
    customer_id: PathId,
    body: SetupBody,
    request: Request,
    wallet: WalletDep,
    keys: IdempotencyDep,
    settings: SettingsDep,
) -> Response:
    """A page of the processor's where the customer saves a method without paying; the
    method is listed once the processor's event says it was saved."""

    def run(key: str | None) -> tuple[int, dict[str, Any]]:
        setup_id = derived_id("seti", f"POST /api/customers/{customer_id}/setup", key)
        url = wallet.setup(
            customer_id,
            body.processor or settings.default_processor,
            setup_id,
            body.success_url,
            body.cancel_url or body.success_url,
        )
        return 201, {"url": url}

    return idempotent(request, keys, body, run)


@router.post("/payment-methods/{method_id}/default")
def make_default(customer_id: PathId, method_id: PathId, wallet: WalletDep) -> dict[str, Any]:
    return payment_method_view(wallet.set_default(customer_id, method_id))


@router.delete("/payment-methods/{method_id}", status_code=204)
def remove(customer_id: PathId, method_id: PathId, wallet: WalletDep) -> Response:
    wallet.remove(customer_id, method_id)
    return Response(status_code=204)


@router.post("/charges", status_code=201)
def charge(
    customer_id: PathId,
    body: ChargeBody,
    request: Request,
    payments: PaymentsDep,
    keys: IdempotencyDep,
    settings: SettingsDep,
) -> Response:
    """Charge a saved method off-session: 201 with the payment (`succeeded`, `authorized`
    for a manual capture, or `requires_action` with the `action_url` where the customer
    authenticates); a decline is 402 with a neutral `decline_code`."""
    if request.headers.get("idempotency-key") is None:
        raise ApiError(
            400,
            "idempotency_key_required",
            "an off-session charge needs an Idempotency-Key header: a retry must not charge twice",
        )

    def run(key: str | None) -> tuple[int, dict[str, Any]]:
        payment_id = derived_id("pay", f"POST /api/customers/{customer_id}/charges", key)
        payment = payments.charge(
            NewCharge(
                payment_id=payment_id,
                customer_id=customer_id,
                amount=body.amount,
                currency=body.currency.lower(),
                description=body.description,
                return_url=body.return_url or settings.return_urls(payment_id)[0],
                payment_method_id=body.payment_method,
                capture=body.capture,
                reference=body.reference,
            )
        )
        return 201, payment_view(payment)

    return idempotent(request, keys, body, run)


@pages.get("/payment-methods/setup/complete")
def complete_setup(
    request: Request,
    wallet: WalletDep,
    processor: Annotated[str, Query(max_length=limits.PROCESSOR)],
    next_url: Annotated[str, Query(alias="next", max_length=URL_LENGTH)],
    expires: Annotated[str, Query(max_length=12)],
    signature: Annotated[str, Query(max_length=64)],
    approval_token_id: Annotated[str, Query(max_length=255, pattern=r"^[0-9A-Za-z_-]+$")],
) -> Response:
    """The customer approved the setup at the processor: keep the method, then on to the
    merchant's page (only the one this service signed: never an open redirect)."""
    returns: SetupReturns = request.app.state.setup_returns
    if not returns.opens(processor, next_url, expires, signature):
        raise ApiError(403, "invalid_link", "this link is invalid or has expired")
    wallet.complete_setup(processor, approval_token_id)
    return RedirectResponse(next_url, status_code=303)

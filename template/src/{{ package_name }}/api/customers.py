"""Customers: POST /api/customers (the merchant's own user id is the identity; the same
`external_id` again answers the same customer), GET /api/customers/{id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from .. import limits
from ..domain.customers import Customers
from ..domain.views import customer_view
from ..errors import ERROR_RESPONSES
from .deps import Services
from .fields import PathId
from .payments import EMAIL_PATTERN
from .security import require_api_token

router = APIRouter(prefix="/api", tags=["customers"], dependencies=[Depends(require_api_token)])


class CustomerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(
        min_length=1,
        max_length=limits.EXTERNAL_ID,
        description="your own id for this customer (your user id): the customer's identity",
    )
    email: str | None = Field(None, max_length=limits.EMAIL, pattern=EMAIL_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=limits.NAME)


async def _customers(connection: HTTPConnection) -> Customers:
    found: Customers = connection.app.state.customers
    return found


CustomersDep = Annotated[Customers, Depends(_customers)]


def install(app: FastAPI, services: Services) -> None:
    app.state.customers = Customers(services.sessions)
    app.include_router(router, responses=ERROR_RESPONSES)


@router.post("/customers", status_code=201, responses={200: {"description": "already there"}})
def create(body: CustomerBody, customers: CustomersDep) -> JSONResponse:
    """The customer for `external_id`: created (201), or the one made before (200, as it is)."""
    customer, created = customers.ensure(body.external_id, body.email, body.name)
    return JSONResponse(customer_view(customer), status_code=201 if created else 200)


@router.get("/customers/{customer_id}")
def get(customer_id: PathId, customers: CustomersDep) -> dict[str, Any]:
    return customer_view(customers.get(customer_id))

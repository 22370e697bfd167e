"""What the routes need, as FastAPI dependencies: the one place that reads `app.state`.

`create_app` builds the services once (`Services`); a route declares what it uses
(`payments: PaymentsDep`) and gets it typed. The dependencies are `async` functions that do
no I/O, so FastAPI calls them on the event loop, not in its thread pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from ..catalog import Product
from ..config import Settings
from ..domain.idempotency import IdempotencyKeys
from ..domain.payments import Payments
from ..processors.base import Processor
from ..webhooks.inbox import InboxWriter


@dataclass(frozen=True)
class Services:
    """Everything a request may need, built once per app."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    processors: Mapping[str, Processor]
    payments: Payments
    idempotency: IdempotencyKeys
    inbox: InboxWriter
    products: Mapping[str, Product]


def services(connection: HTTPConnection) -> Services:
    """The app's services (the webhook route calls this directly: it spares its few
    microseconds of dependency resolution)."""
    found: Services = connection.app.state.services
    return found


async def _settings(connection: HTTPConnection) -> Settings:
    return services(connection).settings


async def _payments(connection: HTTPConnection) -> Payments:
    return services(connection).payments


async def _idempotency(connection: HTTPConnection) -> IdempotencyKeys:
    return services(connection).idempotency


async def _products(connection: HTTPConnection) -> Mapping[str, Product]:
    return services(connection).products


async def _engine(connection: HTTPConnection) -> Engine:
    return services(connection).engine


SettingsDep = Annotated[Settings, Depends(_settings)]
PaymentsDep = Annotated[Payments, Depends(_payments)]
IdempotencyDep = Annotated[IdempotencyKeys, Depends(_idempotency)]
ProductsDep = Annotated[Mapping[str, Product], Depends(_products)]
EngineDep = Annotated[Engine, Depends(_engine)]

"""Reads of the objects that only merchant-facing events carry otherwise: a dispute, an
invoice, as `GET /api/disputes/{id}` and `GET /api/invoices/{id}` show them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from ..models import Dispute, Invoice
from .errors import NotFound
from .views import dispute_view, invoice_view

Row = TypeVar("Row")


def _shown(
    sessions: sessionmaker[Session],
    model: type[Row],
    row_id: str,
    view: Callable[[Row], dict[str, Any]],
    name: str,
) -> dict[str, Any]:
    with sessions() as session:
        row = session.get(model, row_id)
        if row is None:
            raise NotFound(f"no {name} {row_id}")
        return view(row)


def dispute(sessions: sessionmaker[Session], dispute_id: str) -> dict[str, Any]:
    return _shown(sessions, Dispute, dispute_id, dispute_view, "dispute")


def invoice(sessions: sessionmaker[Session], invoice_id: str) -> dict[str, Any]:
    return _shown(sessions, Invoice, invoice_id, invoice_view, "invoice")

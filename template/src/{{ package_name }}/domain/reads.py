"""Reads of the objects that only merchant-facing events carry otherwise: a dispute, an
invoice, as `GET /api/disputes/{id}` and `GET /api/invoices/{id}` show them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ..models import Dispute, Invoice
from .errors import NotFound
from .views import dispute_view, invoice_view


def dispute(sessions: sessionmaker[Session], dispute_id: str) -> dict[str, Any]:
    with sessions() as session:
        row = session.get(Dispute, dispute_id)
        if row is None:
            raise NotFound(f"no dispute {dispute_id}")
        return dispute_view(row)


def invoice(sessions: sessionmaker[Session], invoice_id: str) -> dict[str, Any]:
    with sessions() as session:
        row = session.get(Invoice, invoice_id)
        if row is None:
            raise NotFound(f"no invoice {invoice_id}")
        return invoice_view(row)

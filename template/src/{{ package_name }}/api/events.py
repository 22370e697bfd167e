"""GET /api/events (the merchant-facing events, in order, for pull consumers),
GET /api/events/{id}, and the objects events carry that no other route shows:
GET /api/disputes/{id}, GET /api/invoices/{id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from ..domain import reads
from ..domain.errors import NotFound, Unprocessable
from ..outbound.admin import PAGE_MAX, UnknownEvent, one, page
from .deps import services
from .fields import PathId
from .security import require_api_token

router = APIRouter(prefix="/api", tags=["events"], dependencies=[Depends(require_api_token)])


async def _sessions(connection: HTTPConnection) -> sessionmaker[Session]:
    return services(connection).sessions


SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
EventId = Annotated[str | None, Query(max_length=40, pattern=r"^evt_[a-z2-7]+$")]


@router.get("/events")
def list_events(
    sessions: SessionsDep,
    after: EventId = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 100,
) -> dict[str, Any]:
    """Events in the order they were published, after the event `after`. Page on with the
    last id; an empty page means none newer yet (events are published within a second of
    their change, by the worker)."""
    with sessions() as session:
        try:
            events = page(session, after, limit)
        except UnknownEvent:
            raise Unprocessable(f"no published event {after}") from None
    return {"data": [e.as_json() for e in events], "has_more": len(events) == limit}


@router.get("/events/{event_id}")
def get_event(event_id: PathId, sessions: SessionsDep) -> dict[str, Any]:
    with sessions() as session:
        found = one(session, event_id)
    if found is None:
        raise NotFound(f"no event {event_id}")
    return found.as_json()


@router.get("/disputes/{dispute_id}")
def get_dispute(dispute_id: PathId, sessions: SessionsDep) -> dict[str, Any]:
    return reads.dispute(sessions, dispute_id)


@router.get("/invoices/{invoice_id}")
def get_invoice(invoice_id: PathId, sessions: SessionsDep) -> dict[str, Any]:
    return reads.invoice(sessions, invoice_id)

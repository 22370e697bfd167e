"""What the `events` CLI and GET /api/events read and do: list events with their
deliveries, retry failed or dead deliveries, replay delivered ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..ids import utcnow
from ..models import MerchantDelivery, MerchantEvent
from .envelope import Event
from .publish import lane

#: The most one page of GET /api/events holds.
PAGE_MAX = 500


class UnknownEvent(LookupError):
    """`after=` names no published event."""


def page(session: Session, after: str | None, limit: int) -> list[Event]:
    """Published events after the event `after` (None: from the first), in order."""
    query = select(MerchantEvent).where(MerchantEvent.position.is_not(None))
    if after is not None:
        position = session.scalar(select(MerchantEvent.position).where(MerchantEvent.id == after))
        if position is None:
            raise UnknownEvent(after)
        query = query.where(MerchantEvent.position > position)
    rows = session.scalars(query.order_by(MerchantEvent.position).limit(limit))
    return [Event.of(row) for row in rows]


def told(sessions: sessionmaker[Session], object_ids: Sequence[str]) -> dict[str, list[str]]:
    """The types of the events written about each object, oldest first."""
    found: dict[str, list[str]] = {i: [] for i in object_ids}
    with sessions() as session:
        rows = session.execute(
            select(MerchantEvent.object_id, MerchantEvent.type)
            .where(MerchantEvent.object_id.in_(list(object_ids)))
            .order_by(MerchantEvent.created_at)
        )
        for object_id, type_ in rows:
            found[object_id].append(type_)
    return found


def one(session: Session, event_id: str) -> Event | None:
    row = session.get(MerchantEvent, event_id)
    return None if row is None else Event.of(row)


@dataclass(frozen=True)
class Listed:
    event: Event
    position: int | None
    #: destination -> (status, attempts, last error)
    deliveries: dict[str, tuple[str, int, str | None]]


def listing(
    sessions: sessionmaker[Session], status: str | None, types: Sequence[str], limit: int
) -> list[Listed]:
    """The newest events (with a delivery in `status`, of `types`), newest first."""
    with sessions() as session:
        query = select(MerchantEvent)
        if types:
            query = query.where(MerchantEvent.type.in_(types))
        if status is not None:
            query = query.where(
                MerchantEvent.id.in_(
                    select(MerchantDelivery.event_id).where(MerchantDelivery.status == status)
                )
            )
        rows = list(session.scalars(query.order_by(MerchantEvent.created_at.desc()).limit(limit)))
        deliveries: dict[str, dict[str, tuple[str, int, str | None]]] = {r.id: {} for r in rows}
        for d in session.scalars(
            select(MerchantDelivery).where(MerchantDelivery.event_id.in_(list(deliveries)))
        ):
            deliveries[d.event_id][d.endpoint] = (d.status, d.attempts, d.last_error)
        return [Listed(Event.of(r), r.position, deliveries[r.id]) for r in rows]


def retry(sessions: sessionmaker[Session], event_ids: Sequence[str], dead: bool) -> int:
    """Make failed (still retrying) or dead deliveries due now, with a fresh schedule; how
    many. `event_ids` limits them to those events; `dead`, to dead ones."""
    statuses = ["dead"] if dead else ["dead", "pending"]
    query = update(MerchantDelivery).where(
        MerchantDelivery.status.in_(statuses), MerchantDelivery.attempts > 0
    )
    if event_ids:
        query = query.where(MerchantDelivery.event_id.in_(event_ids))
    with sessions.begin() as session:
        done = session.execute(query.values(status="pending", attempts=0, next_attempt_at=utcnow()))
        return int(getattr(done, "rowcount", 0) or 0)


def replay(
    sessions: sessionmaker[Session],
    event_ids: Sequence[str],
    since: datetime | None,
    destinations: Sequence[str],
) -> int:
    """Send events again (the same ids: receivers that dedup see them once) to every
    destination configured now, one that was added since included; how many deliveries."""
    if not event_ids and since is None:
        raise ValueError("name the events to replay (ids, or a time since)")
    query = select(MerchantEvent).where(MerchantEvent.position.is_not(None))
    if event_ids:
        query = query.where(MerchantEvent.id.in_(event_ids))
    if since is not None:
        query = query.where(MerchantEvent.created_at >= since)
    count = 0
    with sessions.begin() as session:
        for row in session.scalars(query.order_by(MerchantEvent.position)):
            have = {
                d.endpoint: d
                for d in session.scalars(
                    select(MerchantDelivery).where(MerchantDelivery.event_id == row.id)
                )
            }
            for destination in destinations:
                delivery = have.get(destination)
                if delivery is None:
                    assert row.position is not None
                    delivery = MerchantDelivery(
                        event_id=row.id,
                        endpoint=destination,
                        position=row.position,
                        lane=lane(destination, row),
                    )
                    session.add(delivery)
                delivery.status = "pending"
                delivery.attempts = 0
                delivery.next_attempt_at = utcnow()
                delivery.delivered_at = None
                count += 1
    return count

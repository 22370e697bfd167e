"""`webhooks replay` and `reconcile`: operating the inbox."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..ids import utcnow
from ..models import WebhookEvent
from ..processors.base import Processor
from .inbox import malformed, store

log = logging.getLogger(__name__)


def parse_when(text: str) -> datetime:
    """An ISO-8601 time, or a duration back from now: 90m, 6h, 3d."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isdigit():
        return utcnow() - timedelta(**{units[text[-1]]: int(text[:-1])})
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Selection:
    ids: Sequence[int] = ()
    event_ids: Sequence[str] = ()
    types: Sequence[str] = ()
    failed: bool = False
    dead: bool = False
    since: datetime | None = None

    def where(self) -> ColumnElement[bool]:
        chosen: list[ColumnElement[bool]] = []
        if self.ids:
            chosen.append(WebhookEvent.id.in_(self.ids))
        if self.event_ids:
            chosen.append(WebhookEvent.event_id.in_(self.event_ids))
        if self.types:
            chosen.append(WebhookEvent.type.in_(self.types))
        statuses = [s for s, wanted in (("failed", self.failed), ("dead", self.dead)) if wanted]
        if statuses:
            chosen.append(WebhookEvent.status.in_(statuses))
        if self.since is not None:
            chosen.append(WebhookEvent.received_at >= self.since)
        if not chosen:
            raise ValueError("say which events to replay (ids, types, --failed, --dead, --since)")
        return and_(*chosen)  # each kind of filter narrows the selection


def replay(sessions: sessionmaker[Session], selection: Selection) -> int:
    """Queue the selected events again; the worker applies them (effects are idempotent)."""
    with sessions.begin() as session:
        ids = list(session.scalars(select(WebhookEvent.id).where(selection.where())))
        if ids:
            session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id.in_(ids))
                .values(status="pending", attempts=0, next_attempt_at=utcnow())
            )
    return len(ids)


def reconcile(
    sessions: sessionmaker[Session],
    processors: Mapping[str, Processor],
    since: datetime,
    live: bool,
) -> dict[str, int]:
    """Store every event the processors sent since `since` that the inbox lacks."""
    added: dict[str, int] = {}
    for name, adapter in sorted(processors.items()):
        added[name] = 0
        for body in adapter.recent_events(since):
            delivery = adapter.event_from_payload(body)
            if problem := malformed(delivery, body):
                log.warning("reconcile: %s event skipped: %s", name, problem)
                continue
            if store(sessions, delivery, body, live, handled=adapter.handles(delivery.type)):
                added[name] += 1
    return added

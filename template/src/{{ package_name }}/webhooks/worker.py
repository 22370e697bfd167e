"""The webhook worker: applies stored events, with retries, backoff and dead-lettering.

Each event is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL), so several
workers, on several machines, never take the same event; SQLite ignores the clause and
serializes writers, so one in-process drainer does the job there. The event's effect and
its outcome commit in one transaction: a worker killed mid-event leaves the event as it
was, and the next worker applies it once. A failure rolls the effect back (a savepoint),
counts the attempt, and schedules the next one with exponential backoff and jitter; after
`max_attempts` the event is dead, keeping its last error, until it is replayed.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..domain.errors import DomainError
from ..models import WebhookEvent, utcnow
from ..processors.base import Processor
from .handlers import HANDLERS

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY_S = 10.0
MAX_DELAY_S = 3600.0
DUE = ("pending", "failed")


def next_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    ceiling = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** max(0, attempts - 1))
    jitter = (rng or random).random()
    return timedelta(seconds=ceiling / 2 + jitter * ceiling / 2)


class Worker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        processors: Mapping[str, Processor],
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.sessions = sessions
        self.processors = processors
        self.max_attempts = max_attempts

    def process_next(self) -> bool:
        """Apply the oldest due event; False when there is none."""
        with self.sessions.begin() as session:
            row = session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.status.in_(DUE), WebhookEvent.next_attempt_at <= utcnow())
                .order_by(WebhookEvent.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return False
            self._apply(session, row)
            return True

    def _apply(self, session: Session, row: WebhookEvent) -> None:
        row.attempts += 1
        handler = HANDLERS.get(row.type)
        if handler is None:
            row.status = "ignored"
            return
        try:
            adapter = self.processors.get(row.processor)
            if adapter is None:
                raise LookupError(f"processor {row.processor!r} is not configured")
            delivery = adapter.event_from_payload(row.payload.encode("utf-8"))
            with session.begin_nested():
                handler(session, delivery)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            error = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
            row.last_error = error[:2000]
            if row.attempts >= self.max_attempts:
                row.status = "dead"
                row.next_attempt_at = None
            else:
                row.status = "failed"
                row.next_attempt_at = utcnow() + next_delay(row.attempts)
            log.warning(
                "webhook event failed",
                extra={"event": row.event_id, "type": row.type, "attempts": row.attempts},
            )
            return
        row.status = "processed"
        row.processed_at = utcnow()
        row.last_error = None

    def drain(self, stop: threading.Event | None = None) -> int:
        """Apply every due event (until `stop` is set); how many were taken."""
        taken = 0
        while not (stop and stop.is_set()) and self.process_next():
            taken += 1
        return taken

    def run(self, stop: threading.Event, idle_s: float = 1.0) -> None:
        """Drain, then wait for more, until `stop` is set (the current event is finished)."""
        while not stop.is_set():
            try:
                if self.drain(stop) == 0:
                    stop.wait(idle_s)
            except Exception:
                log.exception("webhook worker: database error, retrying")
                stop.wait(5 * idle_s)

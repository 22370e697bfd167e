"""The webhook worker: applies stored events, with retries, backoff and dead-lettering.

Events are claimed in batches with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL), so several
workers, on several machines, never take the same event; SQLite ignores the clause and
serializes writers, so one in-process drainer does the job there. An event's effect and
its outcome commit in the same transaction: a worker killed mid-batch leaves its events as
they were, and the next worker applies each once. A failure rolls the effect back (a savepoint),
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

from ..domain import events
from ..domain.apply import apply
from ..domain.errors import DomainError
from ..domain.facts import Fact, PaymentFact
from ..domain.payments import lock_payments
from ..ids import utcnow
from ..models import WebhookEvent
from ..processors.base import Processor
from ..processors.base import WebhookEvent as Delivery

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY_S = 10.0
MAX_DELAY_S = 3600.0
DUE = ("pending", "failed")
#: Events claimed per transaction: one commit (one WAL flush) for many events.
BATCH = 100
#: A stored event read by its processor: the delivery and its facts, why it cannot be
#: read, or None (a type its processor does not handle).
Read = tuple[Delivery, list[Fact]] | Exception | None


def next_delay(
    attempts: int,
    rng: random.Random | None = None,
    base_s: float = BASE_DELAY_S,
    max_s: float = MAX_DELAY_S,
) -> timedelta:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempts - 1))
    jitter = (rng or random).random()
    return timedelta(seconds=ceiling / 2 + jitter * ceiling / 2)


class _Isolate(Exception):
    """An event of the batch failed: run the batch again, one savepoint per event."""


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
        return self.process_batch(1) > 0

    def process_batch(self, limit: int = BATCH, stop: threading.Event | None = None) -> int:
        """Claim up to `limit` due events and apply them, in one transaction.

        Effects and outcomes commit together, one commit for the batch. The batch first
        runs straight through; if an event fails, the transaction is rolled back and the
        batch runs again with a savepoint per event, so that the failure is recorded
        without undoing the others (failures are rare: the fast path pays no savepoints).
        """
        try:
            return self._batch(limit, stop, isolate=False)
        except _Isolate:
            return self._batch(limit, stop, isolate=True)

    def _batch(self, limit: int, stop: threading.Event | None, isolate: bool) -> int:
        with self.sessions.begin() as session:
            rows = session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.status.in_(DUE), WebhookEvent.next_attempt_at <= utcnow())
                .order_by(WebhookEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            read = {row.id: self._read(row) for row in rows}
            # The payments the batch names by our id, locked in one statement (in id order).
            named = [f for r in read.values() if isinstance(r, tuple) for f in r[1]]
            lock_payments(session, (f.ref.payment_id for f in named if isinstance(f, PaymentFact)))
            done = 0
            # One flush for the batch: the inserts and updates go out together. Rules that
            # query what they just changed flush first.
            with session.no_autoflush:
                for row in rows:
                    if stop is not None and stop.is_set():
                        break
                    self._apply(session, row, read[row.id], isolate)
                    done += 1
            return done

    def _read(self, row: WebhookEvent) -> Read:
        """The stored delivery, read by its own processor into facts: dispatched by
        (processor, type). None: a type its processor does not handle."""
        adapter = self.processors.get(row.processor)
        if adapter is None:
            return LookupError(f"processor {row.processor!r} is not configured")
        if not adapter.handles(row.type):
            return None
        try:
            delivery = adapter.event_from_payload(row.payload.encode("utf-8"))
            return delivery, adapter.facts(delivery)
        except Exception as exc:  # noqa: BLE001 - recorded on the event by _apply
            return exc

    def _apply(
        self,
        session: Session,
        row: WebhookEvent,
        read: Read,
        isolate: bool,
    ) -> None:
        row.attempts += 1
        if read is None:
            row.status = "ignored"
            return
        try:
            if isinstance(read, Exception):
                raise read
            delivery, facts = read
            if not isolate:
                apply(session, delivery, facts, self.processors)
            else:
                with session.begin_nested():
                    apply(session, delivery, facts, self.processors)
        except Exception as exc:
            if not isolate:
                raise _Isolate from exc
            events.forget(session)  # the savepoint's changes are gone: read rows afresh
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

    def drain(self, stop: threading.Event | None = None, batch: int = BATCH) -> int:
        """Apply every due event (until `stop` is set); how many were taken."""
        taken = 0
        while not (stop and stop.is_set()):
            done = self.process_batch(batch, stop)
            if done == 0:
                break
            taken += done
        return taken

    def run(
        self, stop: threading.Event, idle_s: float = 1.0, applied: threading.Event | None = None
    ) -> None:
        """Drain, then wait for more, until `stop` is set (the current event is finished);
        `applied` is set whenever events were applied (it wakes the merchant events'
        deliverer)."""
        while not stop.is_set():
            try:
                if self.drain(stop) == 0:
                    stop.wait(idle_s)
                elif applied is not None:
                    applied.set()
            except Exception:
                log.exception("webhook worker: database error, retrying")
                stop.wait(5 * idle_s)

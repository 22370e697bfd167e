"""The inbox: every verified delivery is stored before it is processed (by the worker).

Storing is idempotent per (processor, event id): a duplicate delivery is acknowledged and
has no second effect. A test-mode event reaching a live service, or the reverse, and an
event type nobody handles, are stored as `ignored`.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from ..models import WebhookEvent
from ..processors.base import WebhookEvent as Delivery
from .handlers import HANDLERS

#: The inbox insert, built once per dialect: a duplicate inserts nothing, and RETURNING
#: says which rows were inserted.
INSERTS = {
    name: insert(WebhookEvent)
    .on_conflict_do_nothing(index_elements=["processor", "event_id"])
    .returning(WebhookEvent.id, WebhookEvent.processor, WebhookEvent.event_id)
    for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool


def row_for(delivery: Delivery, body: bytes, live: bool) -> dict[str, Any]:
    wrong_mode = delivery.livemode is not None and delivery.livemode != live
    return {
        "processor": delivery.processor,
        "event_id": delivery.event_id,
        "type": delivery.type,
        "livemode": delivery.livemode,
        "payload": body.decode("utf-8"),
        "event_created_at": delivery.created_at,
        "status": "pending" if delivery.type in HANDLERS and not wrong_mode else "ignored",
        "last_error": "livemode does not match this service" if wrong_mode else None,
    }


def store(sessions: sessionmaker[Session], delivery: Delivery, body: bytes, live: bool) -> Stored:
    """Record one verified delivery; a second delivery of the same event is a duplicate."""
    return write(sessions, [row_for(delivery, body, live)])[0]


def write(sessions: sessionmaker[Session], rows: list[dict[str, Any]]) -> list[Stored]:
    """Insert deliveries in one statement and one commit; say, for each, new or duplicate.

    `INSERT ... ON CONFLICT DO NOTHING RETURNING`: the deliveries are durable when this
    returns, before any processor gets its 200.
    """
    keys = [(r["processor"], r["event_id"]) for r in rows]
    unique = list(dict(zip(keys, rows, strict=True)).values())
    with sessions.begin() as session:
        statement = INSERTS[session.get_bind().dialect.name]
        inserted = {(p, e): i for i, p, e in session.execute(statement, unique)}
        missing = [k for k in keys if k not in inserted]
        existing: dict[tuple[str, str], int] = {}
        if missing:
            for i, p, e in session.execute(
                select(WebhookEvent.id, WebhookEvent.processor, WebhookEvent.event_id).where(
                    tuple_(WebhookEvent.processor, WebhookEvent.event_id).in_(missing)
                )
            ):
                existing[(p, e)] = i
    results: list[Stored] = []
    claimed: set[tuple[str, str]] = set()
    for key in keys:
        if key in inserted and key not in claimed:
            claimed.add(key)
            results.append(Stored(inserted[key], duplicate=False))
        else:
            results.append(Stored(inserted.get(key) or existing[key], duplicate=True))
    return results


class InboxWriter:
    """Group commit for the inbox: concurrent deliveries share one INSERT and one commit.

    A request hands its row to this thread and waits; the thread takes whatever rows are
    waiting (up to `batch`), inserts them in one statement and commits once, then answers
    each request: new, or a duplicate. The 200 still comes only after the commit, but N
    concurrent deliveries cost one WAL flush instead of N.
    """

    def __init__(self, sessions: sessionmaker[Session], batch: int = 200) -> None:
        self.sessions = sessions
        self.batch = batch
        self.queue: queue.Queue[tuple[dict[str, Any], Future[Stored]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self.thread.start()

    def submit(self, delivery: Delivery, body: bytes, live: bool) -> Future[Stored]:
        future: Future[Stored] = Future()
        self.queue.put((row_for(delivery, body, live), future))
        return future

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            pending = [first]
            while len(pending) < self.batch:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)  # finish this batch, then stop
                    break
                pending.append(item)
            try:
                results = write(self.sessions, [row for row, _ in pending])
            except Exception as exc:  # noqa: BLE001 - every waiting request learns of it
                for _, future in pending:
                    future.set_exception(exc)
                continue
            for (_, future), stored in zip(pending, results, strict=True):
                future.set_result(stored)

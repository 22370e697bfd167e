"""The inbox: every verified delivery is stored before it is processed (by the worker).

Storing is idempotent per (processor, event id): a duplicate delivery is acknowledged and
has no second effect. A test-mode event reaching a live service, or the reverse, and an
event type nobody handles, are stored as `ignored`.

The insert is the webhook endpoint's whole cost beyond verification, so it is one
hand-written statement per batch of deliveries, not the ORM's bulk insert, and the web
process runs it on its event loop (`InboxWriter`) rather than in a thread that would take
turns with the loop for the interpreter lock. `bench/webhooks.py` measures the endpoint;
`tests/test_inbox.py` reads the rows back through the model on both databases.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .. import limits
from ..db import CONNECT_TIMEOUT_S, SQLITE_BUSY_TIMEOUT_MS, describe
from ..ids import utcnow
from ..models import WebhookEvent
from ..processors.base import Processor
from ..processors.base import WebhookEvent as Delivery

log = logging.getLogger(__name__)

#: processor, event_id, type, livemode, payload, event_created_at, status, last_error
Row = tuple[str, str, str, bool | None, str, datetime | None, str, str | None]

INSERT_INTO = (
    "INSERT INTO webhook_events (processor, event_id, type, livemode, payload, "
    "event_created_at, status, last_error, received_at, next_attempt_at, attempts) "
)
RETURNING = " ON CONFLICT (processor, event_id) DO NOTHING RETURNING processor, event_id"

#: PostgreSQL: one statement whatever the batch size (psycopg prepares it once), the rows
#: sent as one JSON array (encoded in C; the server takes them apart).
POSTGRESQL_INSERT = (
    INSERT_INTO  # noqa: S608 - constants: the values are bound parameters
    + "SELECT r->>0, r->>1, r->>2, (r->>3)::boolean, r->>4, (r->>5)::timestamptz, r->>6, "
    "r->>7, %(now)s, %(now)s, 0 FROM json_array_elements(%(rows)s::json) AS r" + RETURNING
)
SQLITE_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"

#: How long a SQLite inbox write waits for another writer (the worker) before a 503: as
#: long as the engine's busy timeout lets every other connection wait.
SQLITE_LOCK_WAIT_S = SQLITE_BUSY_TIMEOUT_MS / 1000


@cache
def sqlite_insert(rows: int) -> str:
    """SQLite: a multi-row VALUES statement, built once per batch size (and prepared once
    by sqlite3's statement cache)."""
    return INSERT_INTO + "VALUES " + ", ".join([SQLITE_VALUES] * rows) + RETURNING


def sqlite_time(value: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy stores it in SQLite (UTC, microseconds always written)."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


#: Event times outside these bounds are no processor's (a signed body can say anything).
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)


def malformed(delivery: Delivery, body: bytes) -> str | None:
    """Why a verified delivery cannot be stored as it is (None when it can): an id or type
    that is empty, too long for its column or holds control characters, a time out of
    range, a body that is not UTF-8."""
    for name, value, limit in (
        ("id", delivery.event_id, limits.EVENT_ID),
        ("type", delivery.type, limits.EVENT_TYPE),
    ):
        if not 0 < len(value) <= limit or limits.CONTROL_CHARACTERS.search(value):
            return f"the event {name} must be 1 to {limit} printable characters"
    when = delivery.created_at
    if when is not None and not EARLIEST_EVENT <= when <= utcnow() + CLOCK_SKEW:
        return "the event time is out of range"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    return None


def row_for(delivery: Delivery, body: bytes, live: bool, handled: bool) -> Row:
    """The inbox row of a verified delivery; `handled`: its processor reads its type."""
    wrong_mode = delivery.livemode is not None and delivery.livemode != live
    return (
        delivery.processor,
        delivery.event_id,
        delivery.type,
        delivery.livemode,
        body.decode("utf-8"),
        delivery.created_at,
        "pending" if handled and not wrong_mode else "ignored",
        "livemode does not match this service" if wrong_mode else None,
    )


def statement(dialect: str, rows: Sequence[Row]) -> tuple[str, Any]:
    """The insert for `rows` (no two with the same event) and its parameters."""
    now = utcnow()
    if dialect == "postgresql":
        encoded = [(*r[:5], r[5] and r[5].isoformat(), *r[6:]) for r in rows]
        return POSTGRESQL_INSERT, {"now": now, "rows": json.dumps(encoded, ensure_ascii=False)}
    when = sqlite_time(now)
    params: list[Any] = []
    for r in rows:
        params += (*r[:5], sqlite_time(r[5]), *r[6:], when, when)
    return sqlite_insert(len(rows)), tuple(params)


def novelty(rows: Sequence[Row], inserted: set[tuple[str, str]]) -> list[bool]:
    """For each row, whether it is new: inserted now, and its event's first row in `rows`."""
    new: list[bool] = []
    for row in rows:
        key = (row[0], row[1])
        new.append(key in inserted)
        inserted.discard(key)
    return new


def alive(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("SELECT 1").fetchall()
    except sqlite3.Error:
        return False
    return True


def unique(rows: Sequence[Row]) -> list[Row]:
    """Each event once: its first row (the one `novelty` calls new)."""
    first: dict[tuple[str, str], Row] = {}
    for row in rows:
        first.setdefault((row[0], row[1]), row)
    return list(first.values())


def insert(connection: Connection, rows: Sequence[Row]) -> list[bool]:
    """Insert deliveries in the caller's transaction; for each, whether it is new."""
    sql, params = statement(connection.dialect.name, unique(rows))
    inserted = {(p, e) for p, e in connection.exec_driver_sql(sql, params)}
    return novelty(rows, inserted)


def store(
    sessions: sessionmaker[Session], delivery: Delivery, body: bytes, live: bool, *, handled: bool
) -> bool:
    """Record one verified delivery: True if new, False for a duplicate."""
    with sessions.begin() as session:
        return insert(session.connection(), [row_for(delivery, body, live, handled)])[0]


def conflicting(sessions: sessionmaker[Session], adapter: Processor, delivery: Delivery) -> bool:
    """Whether a duplicate delivery carries another event than the one stored under its id
    (another type, time or object; the envelope, such as Stripe's `pending_webhooks`, may
    change between deliveries). If so it is counted on the stored row and logged; the first
    one stays the one applied."""
    key = (WebhookEvent.processor == delivery.processor) & (
        WebhookEvent.event_id == delivery.event_id
    )
    with sessions.begin() as session:
        payload = session.scalar(select(WebhookEvent.payload).where(key))
        if payload is None:
            return False
        try:
            stored: Delivery | None = adapter.event_from_payload(payload.encode())
        except (ValueError, KeyError, TypeError):
            stored = None
        said = (delivery.type, delivery.created_at, delivery.data)
        if stored is not None and (stored.type, stored.created_at, stored.data) == said:
            return False
        count = WebhookEvent.conflicting_deliveries
        session.execute(update(WebhookEvent).where(key).values({count: count + 1}))
    log.warning(
        "webhook event id delivered again with another event: kept the first, not applied",
        extra={"processor": delivery.processor, "event": delivery.event_id},
    )
    return True


#: Errors about one row's values rather than the database: worth trying rows one by one.
ROW_ERRORS = (psycopg.DataError, psycopg.IntegrityError, sqlite3.DataError, sqlite3.IntegrityError)


#: What a write may fail with when the database is away (the engine's raw connection raises
#: SQLAlchemy's wrapper).
DATABASE_ERRORS = (psycopg.Error, sqlite3.Error, OSError, DBAPIError)


class InboxUnavailable(Exception):
    """The delivery was not stored (the database is down, locked, or refused it); its
    message names the cause in one line (`db.describe`)."""

    def __init__(self, cause: BaseException | str) -> None:
        super().__init__(cause if isinstance(cause, str) else describe(cause))
        self.row_specific = isinstance(cause, ROW_ERRORS)


class InboxWriter:
    """Group commit on the event loop: concurrent deliveries share one INSERT and one commit.

    A request adds its row and waits; a single flusher writes whatever rows are waiting (up
    to `batch`) in one statement, committed, then answers each request (new, or a
    duplicate), and goes on while rows keep coming. The 200 still comes only after the
    commit, but N concurrent deliveries cost one commit instead of N, and no thread.

    PostgreSQL is reached through psycopg's async connection, so the loop serves other
    requests while the database works. SQLite (the development database) is written
    synchronously on the loop, a local file and no fsync per commit (WAL, synchronous=NORMAL):
    it never waits for a lock there; while another writer holds it, the flusher sleeps and
    tries again, up to `SQLITE_LOCK_WAIT_S`.

    One connection is kept. A batch that fails on a connection that had worked before is
    tried once more on a new one (the database restarted meanwhile); a batch refused for
    one of its rows is written row by row, so only that delivery fails.
    """

    def __init__(self, engine: Engine, batch: int = 200) -> None:
        self.engine = engine
        self.batch = batch
        self.pending: list[tuple[Row, asyncio.Future[bool]]] = []
        self.flusher: asyncio.Task[None] | None = None
        self.postgres: psycopg.AsyncConnection[Any] | None = None
        self.postgres_loop: asyncio.AbstractEventLoop | None = None
        self.sqlite: sqlite3.Connection | None = None

    async def store(self, delivery: Delivery, body: bytes, live: bool, *, handled: bool) -> bool:
        """True once the delivery is committed as new, False for a duplicate."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self.pending.append((row_for(delivery, body, live, handled), future))
        if self.flusher is None or self.flusher.get_loop() is not loop:  # (a test's new loop)
            self.flusher = loop.create_task(self._flush())
        return await future

    def close(self) -> None:
        """Let the connection go (the server has answered every request by then)."""
        if self.postgres is not None:
            self.postgres.pgconn.finish()  # what AsyncConnection.close does, without a loop
            self.postgres = None
        if self.sqlite is not None:
            self.sqlite.close()
            self.sqlite = None

    async def _flush(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[: self.batch], self.pending[self.batch :]
                rows = [row for row, _ in batch]
                outcomes: Sequence[bool | BaseException]
                try:
                    outcomes = await self._write(rows)
                except InboxUnavailable as exc:
                    if exc.row_specific and len(rows) > 1:  # only that row's delivery fails
                        outcomes = [await self._write_one(row) for row in rows]
                    else:
                        outcomes = [exc] * len(rows)
                except Exception:  # a bug: answer 503 rather than leave requests waiting
                    log.exception("inbox write failed")
                    outcomes = [InboxUnavailable("unexpected error")] * len(rows)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self.flusher = None

    async def _write_one(self, row: Row) -> bool | BaseException:
        try:
            return (await self._write([row]))[0]
        except InboxUnavailable as exc:
            return exc

    async def _write(self, rows: list[Row]) -> list[bool]:
        write = self._postgres if self.engine.dialect.name == "postgresql" else self._sqlite
        reused = (self.postgres or self.sqlite) is not None
        try:
            return novelty(rows, await write(unique(rows)))
        except DATABASE_ERRORS as exc:
            lost = self._drop_if_broken()
            if not (reused and lost):
                raise InboxUnavailable(exc) from None  # each request logs its failure
        log.info("inbox: the database connection was lost; trying a new one")
        try:
            return novelty(rows, await write(unique(rows)))
        except DATABASE_ERRORS as exc:
            self._drop_if_broken()
            raise InboxUnavailable(exc) from None

    def _drop_if_broken(self) -> bool:
        """Forget a connection that no longer works; say whether one was dropped."""
        if self.postgres is not None and self.postgres.broken:
            self.close()
            return True
        if self.sqlite is not None and not alive(self.sqlite):
            self.close()
            return True
        return False

    async def _postgres(self, rows: list[Row]) -> set[tuple[str, str]]:
        loop = asyncio.get_running_loop()
        if self.postgres is not None and self.postgres_loop is not loop:
            self.close()  # a test client's new event loop: an async connection keeps to one
        if self.postgres is None:
            self.postgres_loop = loop
            args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
            kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
            self.postgres = await psycopg.AsyncConnection.connect(*args, autocommit=True, **kwargs)
        sql, params = statement("postgresql", rows)
        async with self.postgres.cursor() as cursor:  # autocommit: one statement, committed
            await cursor.execute(sql, params)
            return {(p, e) for p, e in await cursor.fetchall()}

    async def _sqlite(self, rows: list[Row]) -> set[tuple[str, str]]:
        connection = self.sqlite
        if connection is None:
            pooled = self.engine.raw_connection()  # with the engine's pragmas
            pooled.detach()  # its own busy timeout below: never handed to anyone else
            connection = self.sqlite = cast(sqlite3.Connection, pooled.dbapi_connection)
            connection.execute("PRAGMA busy_timeout=0")
        sql, params = statement("sqlite", rows)
        deadline = time.monotonic() + SQLITE_LOCK_WAIT_S
        delay = 0.001
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)  # another writer has the lock: let it finish
            delay = min(delay * 2, 0.05)
        try:
            inserted = {(p, e) for p, e in connection.execute(sql, params)}
            connection.execute("COMMIT")
        except BaseException:
            connection.rollback()
            raise
        return inserted

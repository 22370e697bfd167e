"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL through psycopg 3.

The engine is chosen by DATABASE_URL alone; the same code and migrations run on both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from .config import Settings

SQLITE_BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 5


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver (postgres://, postgresql://)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, begins transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock at the start of every transaction: read-then-write sequences
    # (a refund checking what is left to refund) cannot interleave.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`, configured for its backend. Its errors never carry the
    statement's parameters (amounts, emails, ids): they end up in logs."""
    url = normalize_url(url)
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        **kwargs,
    )


def make_session_factory(engine: Engine, settings: Settings | None = None) -> sessionmaker[Session]:
    """Sessions whose changes write the merchant-facing events (`domain/events.py`), which
    read `settings` where they need it (the grace period in entitlements)."""
    from .domain import events
    from .domain.apply import MERCHANT_EVENTS

    info = {events.KINDS_TRACKED: MERCHANT_EVENTS, events.SETTINGS: settings}
    sessions = sessionmaker(engine, expire_on_commit=False, info=info)
    events.install(sessions)
    return sessions


def unavailable(exc: BaseException) -> bool:
    """Whether a database error means "try again later" rather than a fault of the request
    or of the code: the database could not be reached or the connection broke, or it gave
    up on the statement (locked, timed out, a deadlock or serialization failure), or the
    pool had no connection to give in time."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def describe(exc: BaseException) -> str:
    """A database error in one line for the log: the driver's error class and the first
    line of its message ("connection refused"), never the statement or its parameters."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    first = lines[0].split(" [SQL: ")[0][:200] if lines else ""
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__


def ping(engine: Engine) -> None:
    """Raise if the database does not answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))

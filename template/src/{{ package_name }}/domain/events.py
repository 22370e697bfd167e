"""Merchant-facing events: the outbox. Every change of what the merchant can see (a
payment, refund, dispute, subscription, invoice, and the entitlements they imply) writes
one event row in the transaction that made the change; `outbound/` delivers them.

Nothing here is called by the rules that change state: a session listener remembers, for
every tracked row a flush is about to write, what the merchant saw of it before
(`remember`), and `emit` compares that with what the row says now. The worker emits after
each processor event it applies (the event's id is the cause); any other transaction emits
when it commits. So a rule cannot forget to notify, and a change that leaves the merchant's
view as it was (a duplicate, a replay, an older event) writes nothing.

Which tables are tracked, and how, is a table of `Kind`s: this module's (payments, refunds,
disputes) and, with subscriptions, `subscription_events.KINDS`; `apply.MERCHANT_EVENTS`
holds the service's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from ..ids import new_id, utcnow
from ..models import Dispute, MerchantEvent, Payment, Refund
from .payments import AWAITING, PAID_STATES
from .views import dispute_view, payment_view, refund_view

State = dict[str, Any]
#: `Session.info` keys: the kinds of rows tracked and the service's settings (both set on
#: the session factory, `db.make_session_factory`); what the merchant last saw of each
#: tracked row, by object identity; the rows changed since the last `emit`.
KINDS_TRACKED = "merchant_kinds"
SETTINGS = "settings"
SEEN = "merchant_seen"
TOUCHED = "merchant_touched"

OPEN_DISPUTE = frozenset({"needs_response", "under_review"})


def _payment(before: State | None, now: State) -> list[str]:
    old = before["status"] if before else None
    new = now["status"]
    types = []
    if new in PAID_STATES and (old is None or old in AWAITING):
        types.append("payment.succeeded")
    if new in ("requires_action", "authorized", "failed", "canceled") and old != new:
        types.append(f"payment.{new}")
    if now["amount_refunded"] > (before["amount_refunded"] if before else 0):
        full = now["amount_refunded"] >= now["amount"]
        types.append("payment.refunded" if full else "payment.partially_refunded")
    # Into and out of `disputed`: the dispute's own events say it.
    return types


def _refund(before: State | None, now: State) -> list[str]:
    old = before["status"] if before else None
    if now["status"] == old or now["status"] == "pending":
        return []
    return ["refund.succeeded" if now["status"] == "succeeded" else "refund.failed"]


def _dispute(before: State | None, now: State) -> list[str]:
    old = before["status"] if before else None
    types = []
    if old not in OPEN_DISPUTE and (now["status"] in OPEN_DISPUTE or old is None):
        types.append("dispute.opened")
    if now["status"] not in OPEN_DISPUTE and (old in OPEN_DISPUTE or old is None):
        types.append("dispute.closed")
    return types


class Writer:
    """Adds events, each a microsecond after the one before: one object's events keep the
    order in which they were written, even within one transaction."""

    def __init__(self, session: Session, cause: str | None) -> None:
        self.session = session
        self.cause = cause
        self.at = utcnow()
        self.count = 0

    def add(self, type_: str, object_type: str, object_id: str, data: Mapping[str, Any]) -> None:
        self.session.add(
            MerchantEvent(
                id=new_id("evt"),
                type=type_,
                object_type=object_type,
                object_id=object_id,
                data=json.dumps(data, separators=(",", ":"), sort_keys=True, default=str),
                processor_event_id=self.cause,
                created_at=self.at + timedelta(microseconds=self.count),
            )
        )
        self.count += 1


@dataclass(frozen=True)
class Kind:
    """How one table's rows become events: the fields the merchant sees change, the types
    a change from one state to the next writes (`writes`: every one it can), the object as
    the API shows it."""

    name: str
    fields: tuple[str, ...]
    types: Callable[[State | None, State], list[str]]
    view: Callable[[Session, Any], dict[str, Any]]
    writes: tuple[str, ...]
    #: The view reads other rows.
    reads_rows: bool = False
    #: What follows from this kind's changed rows (a customer's entitlements).
    then: Callable[[Session, list[Any], Writer], None] | None = None


KINDS: dict[type[Any], Kind] = {
    Payment: Kind(
        "payment",
        ("status", "amount", "amount_refunded"),
        _payment,
        lambda _, row: payment_view(row),
        (
            "payment.succeeded",
            "payment.requires_action",
            "payment.authorized",
            "payment.failed",
            "payment.canceled",
            "payment.refunded",
            "payment.partially_refunded",
        ),
    ),
    Refund: Kind(
        "refund",
        ("status",),
        _refund,
        lambda _, row: refund_view(row),
        ("refund.succeeded", "refund.failed"),
    ),
    Dispute: Kind(
        "dispute",
        ("status",),
        _dispute,
        lambda _, row: dispute_view(row),
        ("dispute.opened", "dispute.closed"),
    ),
}


def written(kinds: Iterable[Kind]) -> tuple[str, ...]:
    """Every type of event these kinds can write."""
    return tuple(t for kind in kinds for t in kind.writes)


def _state(row: Any, kind: Kind) -> State | None:
    """What the merchant saw of `row` before its unflushed changes (None: a new row)."""
    state = inspect(row)
    if state.transient or state.pending:
        return None
    seen: State = {}
    for name in kind.fields:
        old = state.attrs[name].history.deleted
        seen[name] = old[0] if old else getattr(row, name)
    return seen


def remember(session: Session, *_: Any) -> None:
    """Before a flush (and before `emit`): note the rows about to change, and what the
    merchant saw of each, the first time each is seen changing."""
    kinds: Mapping[type[Any], Kind] = session.info.get(KINDS_TRACKED, {})
    seen: dict[int, tuple[Any, State | None]] = session.info.setdefault(SEEN, {})
    touched: dict[int, Any] = session.info.setdefault(TOUCHED, {})
    for row in (*session.new, *session.dirty):
        kind = kinds.get(type(row))
        if kind is None or id(row) in touched:
            continue
        touched[id(row)] = row
        if id(row) not in seen:
            # The row is kept with its state: its id() cannot be another row's meanwhile.
            seen[id(row)] = (row, _state(row, kind))


def emit(session: Session, processor_event_id: str | None = None) -> int:
    """Write an event for each tracked row whose merchant-visible state changed since it
    was last seen; how many were written."""
    remember(session)
    if any(inspect(row).pending for row in session.info[TOUCHED].values()):
        session.flush()  # new rows get their ids and defaults
    kinds: Mapping[type[Any], Kind] = session.info.get(KINDS_TRACKED, {})
    touched: dict[int, Any] = session.info.pop(TOUCHED, {})
    seen: dict[int, tuple[Any, State | None]] = session.info.setdefault(SEEN, {})
    changed: dict[Kind, list[tuple[Any, list[str]]]] = {}
    for key, row in touched.items():
        state = inspect(row)
        if state.detached or state.deleted or state.transient:
            continue  # rolled back with a savepoint, or deleted
        kind = kinds[type(row)]
        now = {name: getattr(row, name) for name in kind.fields}
        before = seen[key][1]
        if before == now:
            continue
        seen[key] = (row, now)
        changed.setdefault(kind, []).append((row, kind.types(before, now)))
    if not changed:
        return 0
    if any(kind.reads_rows for kind in changed):
        session.flush()  # a view that reads other rows sees this transaction's changes
    writer = Writer(session, processor_event_id)
    for kind, rows in changed.items():
        for row, types in rows:
            if types:
                view = kind.view(session, row)
                for type_ in types:
                    writer.add(type_, kind.name, row.id, view)
        if kind.then is not None:
            kind.then(session, [row for row, _ in rows], writer)
    return writer.count


def _before_commit(session: Session) -> None:
    emit(session)


def install(sessions: sessionmaker[Session]) -> None:
    """Track changes on every session `sessions` makes (of the kinds its `info` names)."""
    event.listen(sessions, "before_flush", remember)
    event.listen(sessions, "before_commit", _before_commit)


def forget(session: Session) -> None:
    """After a savepoint's rollback: what was seen is read again from the rows."""
    session.info.pop(SEEN, None)
    session.info.pop(TOUCHED, None)

"""Resync: objects read back from their processor, not from its events, and converged
through the rules the events go through (`reconcile --object ID`, `reconcile --all-open`).

`reconcile --since` stores the events the inbox missed, but a processor keeps its events
for a while only (Stripe: 30 days), and some changes send none this service hears of.
Here a payment's state, refunds and disputes, or a subscription, are read as they are now
and applied as the facts an event would carry: a synthetic event of type `resync`, dated
now (the processor's present state is the newest there is), in one transaction; the
merchant hears of what changed, as after any event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from types import ModuleType

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..ids import utcnow
from ..models import Dispute, Payment, Refund
from ..processors.base import Processor, WebhookEvent
from .apply import apply
from .errors import NotFound
from .events import OPEN_DISPUTE
from .facts import PaymentRef
from .payments import AWAITING, Payments

RESYNC = "resync"
#: Payments not final: waiting for the buyer or held, or disputed (a paid payment may be
#: refunded or disputed for months: read one back with `--object`).
OPEN_PAYMENTS = (*sorted(AWAITING), "disputed")


def resync_event(processor: str, object_id: str) -> WebhookEvent:
    """The synthetic event a read-back is applied as (its id names the object and time)."""
    now = utcnow()
    return WebhookEvent(processor, f"{RESYNC}:{object_id}:{now.isoformat()}", RESYNC, None, now, {})


@dataclass(frozen=True)
class Resynced:
    object_id: str
    before: str
    after: str

    def line(self) -> str:
        if self.before == self.after:
            return f"{self.object_id}: {self.after} (unchanged)"
        return f"{self.object_id}: {self.before} -> {self.after}"


def _described(payment: Payment) -> str:
    return f"{payment.status}, refunded {payment.amount_refunded} of {payment.amount}"


def _subscriptions() -> ModuleType | None:
    """The subscription rules, where this service has subscriptions."""
    name = f"{__package__}.subscriptions"
    return import_module(name) if find_spec(name) is not None else None


class Resync:
    def __init__(
        self, sessions: sessionmaker[Session], processors: Mapping[str, Processor]
    ) -> None:
        self.sessions = sessions
        self.processors = processors
        self.payments = Payments(sessions, processors)

    def object(self, object_id: str) -> Resynced:
        """Read back a payment, or the payment of a refund or dispute, or a subscription."""
        kind = object_id.split("_", 1)[0]
        if kind == "pay":
            return self.payment(object_id)
        if kind in ("re", "dp"):
            model = Refund if kind == "re" else Dispute
            with self.sessions() as session:
                payment_id = session.scalar(select(model.payment_id).where(model.id == object_id))
            if payment_id is not None:
                found = self.payment(payment_id)
                return Resynced(f"{object_id} (payment {payment_id})", found.before, found.after)
        module = _subscriptions()
        if kind == "sub" and module is not None:
            before, after = module.read_back(
                self.sessions, self.processors, object_id, lambda p: resync_event(p, object_id)
            )
            return Resynced(object_id, str(before), str(after))
        raise NotFound(f"no payment, refund, dispute or subscription {object_id}")

    def payment(self, payment_id: str) -> Resynced:
        """The payment's state (a pending one moves), then its refunds and disputes."""
        before = _described(self.payments.get(payment_id))
        synced = self.payments.apply_snapshot(payment_id)
        adapter = self.payments.processor(synced.processor)
        ref = PaymentRef(synced.id, synced.processor_payment_id, synced.processor_ref)
        facts = adapter.read_back(ref)
        if facts:
            with self.sessions.begin() as session:
                apply(session, resync_event(synced.processor, payment_id), facts, self.processors)
        return Resynced(payment_id, before, _described(self.payments.get(payment_id)))

    def open_ids(self) -> list[str]:
        """What `--all-open` reads back: payments not final (waiting, held, disputed), the
        payments of pending refunds and open disputes, and subscriptions not ended."""
        with self.sessions() as session:
            ids = list(
                session.scalars(
                    select(Payment.id)
                    .where(
                        or_(
                            Payment.status.in_(OPEN_PAYMENTS),
                            Payment.id.in_(
                                select(Refund.payment_id).where(Refund.status == "pending")
                            ),
                            Payment.id.in_(
                                select(Dispute.payment_id).where(Dispute.status.in_(OPEN_DISPUTE))
                            ),
                        )
                    )
                    .order_by(Payment.created_at)
                )
            )
            module = _subscriptions()
            if module is not None:
                ids += [str(found) for found in module.open_ids(session)]
        return ids

"""Delivering published events to each destination: the merchant's webhook URLs and their
hooks module.

Deliveries are claimed with `SELECT ... FOR UPDATE SKIP LOCKED` (several workers share the
load) and leased: the claim commits, the attempt runs outside any transaction (a slow
receiver never holds a lock), and a worker killed mid-attempt leaves the lease to run out,
after which another worker tries again. A delivery waits while an earlier event about the
same object is still pending for the same destination, so each object's events arrive in
order (a dead one no longer holds the others back). Failures are retried with exponential
backoff and jitter, then dead-lettered; `events retry` and `events replay` send them again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import timedelta
from types import ModuleType
from typing import Protocol

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, sessionmaker
from standardwebhooks import Webhook

from .. import __version__
from ..config import safe_endpoint
from ..ids import utcnow
from ..models import MerchantDelivery, MerchantEvent
from ..webhooks.worker import next_delay
from .envelope import Event
from .publish import publish

log = logging.getLogger(__name__)

#: The destination name of the merchant's hooks module (a URL is never this).
HOOKS = "hooks"
#: About three days of retries, as Stripe retries its own webhooks: the waits double from
#: 10 s to 6 h, then stay there (with jitter: between 2 and 4 days in all).
MAX_ATTEMPTS = 27
BASE_DELAY_S = 10.0
MAX_DELAY_S = 6 * 3600.0
#: Deliveries claimed at a time, and how long each attempt may hold its claim.
BATCH = 20
HOOK_LEASE_S = 60.0


class DeliveryFailed(Exception):
    """An attempt failed; its message is recorded (it never holds the body)."""


class Destination(Protocol):
    #: How long one attempt may take (its lease).
    lease_s: float

    def send(self, event: Event) -> None:
        """Deliver, or raise."""


class Endpoint:
    """A merchant webhook URL: POSTs the event, signed per Standard Webhooks."""

    def __init__(self, url: str, secret: str, timeout_s: float) -> None:
        self.url = url
        self.signer = Webhook(secret)
        self.lease_s = timeout_s + 5
        # No redirects: a signed event goes where it was configured to go, nowhere else.
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, event: Event) -> None:
        body = event.body()
        now = utcnow()
        headers = {
            "content-type": "application/json",
            "user-agent": f"payments-service/{__version__}",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.signer.sign(event.id, now, body),
        }
        try:
            # The status is the answer; the body is never read (a receiver cannot make the
            # worker wait on, or hold in memory, whatever it sends).
            with self.client.stream("POST", self.url, content=body.encode(), headers=headers) as r:
                status = r.status_code
        except httpx.TimeoutException:
            raise DeliveryFailed("no answer in time") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"not delivered ({type(exc).__name__})") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"answered {status}")


class Hooks:
    """The merchant's hooks module: the function named after the type (`payment.succeeded`
    -> `payment_succeeded(event)`), if there is one. What it raises is a failed delivery."""

    lease_s = HOOK_LEASE_S

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def send(self, event: Event) -> None:
        hook = getattr(self.module, event.type.replace(".", "_"), None)
        if callable(hook):
            hook(event)


class Outbound:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        destinations: Mapping[str, Destination],
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.sessions = sessions
        self.destinations = destinations
        self.max_attempts = max_attempts

    def publish(self) -> int:
        return publish(self.sessions, list(self.destinations))

    def deliver_batch(self, limit: int = BATCH) -> int:
        """Claim up to `limit` due deliveries and attempt each; how many were claimed."""
        claimed = self._claim(limit)
        for delivery_id, destination, event in claimed:
            try:
                self.destinations[destination].send(event)
            except Exception as exc:  # noqa: BLE001 - a hook's own error is a failure too
                error = str(exc) if isinstance(exc, DeliveryFailed) else type(exc).__name__
                self._record(delivery_id, error)
            else:
                self._record(delivery_id, None)
        return len(claimed)

    def _claim(self, limit: int) -> list[tuple[int, str, Event]]:
        if not self.destinations:
            return []
        now = utcnow()
        # The head of each lane: the first pending delivery of one object to one destination
        # (a subquery per candidate, through the lane's index, whatever the statistics say).
        lane = aliased(MerchantDelivery)
        head = (
            select(func.min(lane.position))
            .where(lane.lane == MerchantDelivery.lane, lane.status == "pending")
            .scalar_subquery()
        )
        with self.sessions.begin() as session:
            rows = session.execute(
                select(MerchantDelivery, MerchantEvent)
                .join(MerchantEvent, MerchantEvent.id == MerchantDelivery.event_id)
                .where(
                    MerchantDelivery.status == "pending",
                    MerchantDelivery.next_attempt_at <= now,
                    MerchantDelivery.endpoint.in_(list(self.destinations)),
                    MerchantDelivery.position == head,
                )
                .order_by(MerchantDelivery.position)
                .limit(limit)
                .with_for_update(skip_locked=True, of=MerchantDelivery)
            ).all()
            # Each attempt's lease starts when the ones before it in this batch end.
            lease = now
            claimed = []
            for delivery, event in rows:
                lease += timedelta(seconds=self.destinations[delivery.endpoint].lease_s)
                delivery.attempts += 1
                delivery.next_attempt_at = lease
                claimed.append((delivery.id, delivery.endpoint, Event.of(event)))
            return claimed

    def _record(self, delivery_id: int, error: str | None) -> None:
        with self.sessions.begin() as session:
            delivery = session.get_one(MerchantDelivery, delivery_id, with_for_update=True)
            if delivery.status != "pending":
                return
            if error is None:
                delivery.status = "delivered"
                delivery.delivered_at = utcnow()
                delivery.next_attempt_at = None
                delivery.last_error = None
                return
            delivery.last_error = error[:2000]
            if delivery.attempts >= self.max_attempts:
                delivery.status = "dead"
                delivery.next_attempt_at = None
            else:
                delay = next_delay(delivery.attempts, base_s=BASE_DELAY_S, max_s=MAX_DELAY_S)
                delivery.next_attempt_at = utcnow() + delay
            log.warning(
                "merchant event not delivered: %s",
                error,
                extra={
                    "event": delivery.event_id,
                    "destination": safe_endpoint(delivery.endpoint),
                    "attempts": delivery.attempts,
                    "status": delivery.status,
                },
            )

    def drain(self, stop: threading.Event | None = None) -> int:
        """Publish, then deliver what is due (until `stop` is set); how many were tried."""
        tried = 0
        while not (stop and stop.is_set()):
            self.publish()
            done = self.deliver_batch()
            if done == 0:
                break
            tried += done
        return tried

    def run(
        self, stop: threading.Event, idle_s: float = 1.0, wake: threading.Event | None = None
    ) -> None:
        """Drain, then wait for more (`idle_s`, or until `wake` is set: the webhook worker
        applied events), until `stop` is set."""
        wake = wake or threading.Event()
        while not stop.is_set():
            try:
                if self.drain(stop) == 0:
                    wake.wait(idle_s)
                    wake.clear()
            except Exception:
                log.exception("merchant events: database error, retrying")
                stop.wait(5 * idle_s)

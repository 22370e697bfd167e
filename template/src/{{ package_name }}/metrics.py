"""Prometheus metrics: GET /metrics (behind METRICS_TOKEN), and `status` (docs/operations.md).

Two kinds:

- Counted by each process: HTTP requests by route template when METRICS_TOKEN is set
  (never the raw path: a hostile path is `unmatched`), processor calls by processor,
  operation and outcome, with their duration, and idempotent replays. Under
  `serve --workers N` they are summed across its processes (prometheus_client's
  multiprocess mode, PROMETHEUS_MULTIPROC_DIR); a `worker` given the same directory (same
  host) is summed in too.
- Read from the database at each scrape, so every process answers the same, wherever the
  worker runs: the webhook inbox's backlog by processor and status, its oldest waiting
  event, dead events, the last event processed; the merchant deliveries' backlog; amount
  mismatches (counted from the payments' history: the worker records them). A few indexed
  queries (the final statuses, `processed` and `ignored`, are not counted); a database that
  does not answer is `payments_database_up 0`, not an error.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from .ids import utcnow
from .models import MerchantDelivery, WebhookEvent

__all__ = ["CONTENT_TYPE_LATEST", "Backlog", "exposition", "meter", "read_backlog"]

#: Webhook statuses that wait for the worker (`failed`: to be retried) or for a person.
WAITING = ("pending", "processing", "failed")
BACKLOG_STATUSES = (*WAITING, "dead")
#: Deliveries to the merchant that wait, or gave up.
OUTBOUND_STATUSES = ("pending", "dead")
#: Where the processes of `serve --workers N` count (prometheus_client's multiprocess mode).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: The label of a request no route matched (its path is never a label: unbounded).
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    "payments_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "payments_http_request_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PROCESSOR_REQUESTS = Counter(
    "payments_processor_requests",
    "Calls to a processor, by processor, operation and outcome (ok, or the error's kind:"
    " declined, rate_limited, invalid_request, authentication, unavailable, error)",
    ["processor", "operation", "outcome"],
)
PROCESSOR_SECONDS = Histogram(
    "payments_processor_request_seconds",
    "Time a processor call took (its SDK's retries included), by processor and operation",
    ["processor", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60),
)
IDEMPOTENCY_REPLAYS = Counter(
    "payments_idempotency_replays",
    "Requests answered with the stored answer of an earlier one with the same Idempotency-Key",
)


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_SECONDS.labels(method, route).observe(seconds)


#: An adapter's methods that read what it was sent rather than call the processor (PayPal's
#: `parse_webhook` may fetch a certificate, cached: not counted either).
LOCAL = frozenset({"parse_webhook", "event_from_payload", "handles", "facts"})


def meter(processor: str, adapter: object, operations: frozenset[str]) -> None:
    """Count and time each of the adapter's `operations` (but the LOCAL ones), in place."""
    for name in sorted(operations - LOCAL):
        call = getattr(adapter, name, None)
        if callable(call):
            setattr(adapter, name, metered(processor, name, call))


def metered(processor: str, operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, counted and timed: its outcome is `ok`, or the ProcessorError's kind, or
    `error` for anything else (raised on as it was). A generator (`recent_events`) is
    counted over its whole iteration: its pages are fetched as it is read."""
    from .processors.base import ProcessorError

    seconds = PROCESSOR_SECONDS.labels(processor, operation)

    @contextmanager
    def counting() -> Iterator[None]:
        outcome = "error"
        started = time.perf_counter()
        try:
            yield
            outcome = "ok"
        except ProcessorError as exc:
            outcome = exc.kind
            raise
        finally:
            seconds.observe(time.perf_counter() - started)
            PROCESSOR_REQUESTS.labels(processor, operation, outcome).inc()

    if inspect.isgeneratorfunction(call):

        @wraps(call)
        def iterated(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with counting():
                yield from call(*args, **kwargs)

        return iterated

    @wraps(call)
    def counted(*args: Any, **kwargs: Any) -> Any:
        with counting():
            return call(*args, **kwargs)

    return counted


@dataclass(frozen=True)
class ProcessorBacklog:
    """One processor's webhook inbox: events waiting or dead, by status."""

    counts: dict[str, int] = field(default_factory=dict)
    oldest_waiting_at: datetime | None = None
    last_processed_at: datetime | None = None

    @property
    def waiting(self) -> int:
        return sum(self.counts.get(status, 0) for status in WAITING)

    @property
    def dead(self) -> int:
        return self.counts.get("dead", 0)


@dataclass(frozen=True)
class Backlog:
    """What waits, and what gave up, read from the database at `now`."""

    now: datetime
    webhooks: dict[str, ProcessorBacklog]
    outbound: dict[str, int]
    outbound_oldest_pending_at: datetime | None
    amount_mismatches: int

    def age(self, since: datetime | None) -> float:
        """Seconds from `since` to now (0: nothing waits)."""
        return max(0.0, (self.now - since).total_seconds()) if since else 0.0


def read_backlog(engine: Engine, processors: tuple[str, ...]) -> Backlog:
    """The inbox and outbox backlogs and the count of amount mismatches: indexed queries,
    one short transaction. `processors` are always reported, with zeros when idle."""
    from .domain.payments import amount_mismatches  # (the domain imports the adapters)

    with engine.connect() as connection:
        now = utcnow()
        inbox = connection.execute(
            select(
                WebhookEvent.processor,
                WebhookEvent.status,
                func.count(),
                func.min(WebhookEvent.received_at),
            )
            .where(WebhookEvent.status.in_(BACKLOG_STATUSES))
            .group_by(WebhookEvent.processor, WebhookEvent.status)
        ).all()
        names = sorted({*processors, *(row[0] for row in inbox)})
        last = {
            name: connection.execute(
                select(func.max(WebhookEvent.processed_at)).where(WebhookEvent.processor == name)
            ).scalar()
            for name in names
        }
        outbox = connection.execute(
            select(MerchantDelivery.status, func.count(), func.min(MerchantDelivery.created_at))
            .where(MerchantDelivery.status.in_(OUTBOUND_STATUSES))
            .group_by(MerchantDelivery.status)
        ).all()
        mismatches = amount_mismatches(connection)
    webhooks = {}
    for name in names:
        rows = [row for row in inbox if row[0] == name]
        waiting = [row[3] for row in rows if row[1] in WAITING and row[3] is not None]
        webhooks[name] = ProcessorBacklog(
            counts={row[1]: row[2] for row in rows},
            oldest_waiting_at=min(waiting, default=None),
            last_processed_at=last[name],
        )
    pending = [row[2] for row in outbox if row[0] == "pending" and row[2] is not None]
    return Backlog(
        now=now,
        webhooks=webhooks,
        outbound={status: count for status, count, _ in outbox},
        outbound_oldest_pending_at=min(pending, default=None),
        amount_mismatches=mismatches,
    )


class FromTheDatabase(Collector):
    """The gauges read from the database at each scrape (module docstring)."""

    def __init__(self, engine: Engine, processors: tuple[str, ...]) -> None:
        self.engine = engine
        self.processors = processors

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("payments_database_up", "Whether the database answered the scrape")
        try:
            backlog = read_backlog(self.engine, self.processors)
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        events = GaugeMetricFamily(
            "payments_webhook_events",
            "Processor events in the inbox that wait (pending, processing, failed: to be"
            " retried) or gave up (dead), by processor and status",
            labels=["processor", "status"],
        )
        oldest = GaugeMetricFamily(
            "payments_webhook_oldest_pending_seconds",
            "Age of the oldest event waiting in the inbox, by processor (0: none waits)",
            labels=["processor"],
        )
        dead = GaugeMetricFamily(
            "payments_webhook_dead_events",
            "Events the worker gave up on (`webhooks replay --dead` once the cause is fixed)",
            labels=["processor"],
        )
        last = GaugeMetricFamily(
            "payments_webhook_last_processed_timestamp_seconds",
            "When the processor's last event was applied (Unix time; absent: never)",
            labels=["processor"],
        )
        for name, inbox in backlog.webhooks.items():
            for status in BACKLOG_STATUSES:
                events.add_metric([name, status], inbox.counts.get(status, 0))
            oldest.add_metric([name], backlog.age(inbox.oldest_waiting_at))
            dead.add_metric([name], inbox.dead)
            if inbox.last_processed_at is not None:
                last.add_metric([name], inbox.last_processed_at.timestamp())
        outbound = GaugeMetricFamily(
            "payments_outbound_events",
            "Merchant event deliveries that wait (pending) or gave up (dead), by status",
            labels=["status"],
        )
        for status in OUTBOUND_STATUSES:
            outbound.add_metric([status], backlog.outbound.get(status, 0))
        outbound_oldest = GaugeMetricFamily(
            "payments_outbound_oldest_pending_seconds",
            "Age of the oldest merchant event delivery waiting (0: none waits)",
        )
        outbound_oldest.add_metric([], backlog.age(backlog.outbound_oldest_pending_at))
        mismatches = CounterMetricFamily(
            "payments_amount_mismatches",
            "Processor confirmations of another amount than the payment's, recorded and never"
            " counted as paid",
        )
        mismatches.add_metric([], backlog.amount_mismatches)
        yield from (events, oldest, dead, last, outbound, outbound_oldest, mismatches)


def exposition(engine: Engine, processors: tuple[str, ...], multiprocess_dir: str | None) -> bytes:
    """The text a scrape gets: this process's (or, in multiprocess mode, every process's)
    counters, then the database's gauges."""
    counted: CollectorRegistry = REGISTRY
    if multiprocess_dir:
        counted = CollectorRegistry()
        MultiProcessCollector(counted, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    database = CollectorRegistry()
    database.register(FromTheDatabase(engine, processors))
    return generate_latest(counted) + generate_latest(database)

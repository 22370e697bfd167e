"""Stripe's failures as the metrics count them (metrics.py): each call once, with the kind
of its outcome, whatever the SDK retried underneath."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import METRICS_TOKEN, Samples, sample, scrape
from tests.stripe.conftest import serve
from tests.stripe.fake_server import FakeStripe
from tests.stripe.support import checkout

CALLS = "payments_processor_requests_total"


@pytest.fixture
def metered(
    fake_stripe: FakeStripe, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("METRICS_TOKEN", METRICS_TOKEN)
    yield from serve(fake_stripe, sqlite_url, monkeypatch)


def outcomes(before: Samples, after: Samples) -> dict[str, float]:
    """How many create_checkout calls ended each way between two scrapes."""
    kinds = ("ok", "declined", "rate_limited", "unavailable", "error", "invalid_request")
    labels = {"processor": "stripe", "operation": "create_checkout"}
    counted = {
        kind: sample(after, CALLS, **labels, outcome=kind)
        - sample(before, CALLS, **labels, outcome=kind)
        for kind in kinds
    }
    return {kind: n for kind, n in counted.items() if n}


@pytest.mark.parametrize(
    ("plan", "status", "outcome"),
    [
        ([], 201, "ok"),
        (["500", "500", "500"], 503, "unavailable"),
        (["429"], 503, "rate_limited"),
        (["decline"], 402, "declined"),
    ],
)
def test_each_call_is_counted_with_its_outcome(
    metered: TestClient, fake_stripe: FakeStripe, plan: list[str], status: int, outcome: str
) -> None:
    before = scrape(metered)
    fake_stripe.plan = plan
    assert checkout(metered, "order-metrics").status_code == status
    after = scrape(metered)
    assert outcomes(before, after) == {outcome: 1}
    timed = "payments_processor_request_seconds_count"
    labels = {"processor": "stripe", "operation": "create_checkout"}
    assert sample(after, timed, **labels) == sample(before, timed, **labels) + 1

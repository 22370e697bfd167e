"""GET /metrics: Prometheus's text format, for a scraper holding METRICS_TOKEN
(docs/operations.md). Off (404) until METRICS_TOKEN is set; not in the OpenAPI document."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import ApiError
from ..metrics import CONTENT_TYPE_LATEST, MULTIPROCESS_DIR, exposition
from .deps import services
from .security import require_bearer

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The counters of this service's processes and the database's backlog gauges. A
    thread of the pool: the gauges are a few database queries."""
    built = services(request)
    expected = built.settings.metrics_token
    if expected is None or not expected.get_secret_value():
        raise ApiError(404, "not_found", "metrics are off: set METRICS_TOKEN to turn them on")
    require_bearer(request, expected)
    body = exposition(built.engine, tuple(built.processors), os.environ.get(MULTIPROCESS_DIR))
    return Response(body, media_type=CONTENT_TYPE_LATEST)

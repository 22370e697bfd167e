"""Running a POST under its Idempotency-Key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from ..domain.idempotency import IdempotencyKeys, fingerprint
from ..errors import as_api_error
from ..metrics import IDEMPOTENCY_REPLAYS

Handler = Callable[[str | None], tuple[int, dict[str, Any]]]
#: Answers that depend on the state of things, not on the request: never replayed (a refund
#: refused while the payment is pending must run again once it has succeeded).
UNSTORED = frozenset({404, 409})


def idempotent(
    request: Request, keys: IdempotencyKeys, body: BaseModel | None, handler: Handler
) -> Response:
    """Run `handler` at most once per Idempotency-Key and request body; it is given what to
    derive its ids from (the key and the body), or None without a key."""
    key = request.headers.get("idempotency-key")
    if key is None:
        status, payload = handler(None)
        return JSONResponse(payload, status_code=status)
    scope = f"{request.method} {request.url.path}"
    request_fingerprint = fingerprint(body.model_dump() if body else None)
    stored = keys.begin(scope, key, request_fingerprint)
    if stored is not None:
        IDEMPOTENCY_REPLAYS.inc()
        return Response(
            stored.body,
            status_code=stored.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        # The ids an operation derives from its key name its request too: once the key is
        # forgotten (24 hours on), another request under it makes objects of its own
        # instead of resuming the old one's.
        status, payload = handler(f"{key}\0{request_fingerprint}")
    except Exception as exc:
        error = as_api_error(exc)
        if error is None or error.status_code in UNSTORED or error.status_code >= 500:
            keys.release(scope, key)  # the answer may change: the retry must be able to run
            raise
        status, payload = error.status_code, error.body()
    keys.complete(scope, key, status, json.dumps(payload))
    return JSONResponse(payload, status_code=status)

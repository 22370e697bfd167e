"""POST /webhooks/{processor}: verify, then store durably; the worker applies it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from ..errors import ApiError
from ..processors.base import Processor, WebhookVerificationError
from ..webhooks.inbox import store

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024


async def read_body(request: Request) -> bytes:
    """The raw body (signatures cover the exact bytes), refused beyond 1 MiB."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "webhook bodies are limited to 1 MiB")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "webhook bodies are limited to 1 MiB")
    return body


def ingest(
    request: Request, adapter: Processor, body: bytes, headers: Mapping[str, str]
) -> dict[str, Any]:
    """Verify and store a delivery; shared with the fake checkout page."""
    try:
        delivery = adapter.parse_webhook(body, headers)
    except WebhookVerificationError as exc:
        log.warning("webhook refused: %s", exc, extra={"processor": adapter.name})
        raise ApiError(400, "invalid_signature", "the webhook signature is invalid") from None
    state = request.app.state
    try:
        stored = store(state.sessions, delivery, body, live=state.settings.is_production)
    except SQLAlchemyError:
        log.error("webhook not stored: database unavailable", extra={"processor": adapter.name})
        raise ApiError(
            503, "database_unavailable", "try again later", {"Retry-After": "5"}
        ) from None
    return {"received": True, "duplicate": stored.duplicate}


@router.post("/webhooks/{processor}")
async def receive(processor: str, request: Request) -> dict[str, Any]:
    adapter = request.app.state.payments.processors.get(processor)
    if adapter is None:
        raise ApiError(404, "not_found", f"no processor {processor!r} in this service")
    body = await read_body(request)
    return await run_in_threadpool(ingest, request, adapter, body, request.headers)

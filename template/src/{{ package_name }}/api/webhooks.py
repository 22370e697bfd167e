"""POST /webhooks/{processor}: verify, then store durably; the worker applies it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from ..errors import ApiError
from ..processors.base import Processor, WebhookVerificationError
from ..processors.base import WebhookEvent as Delivery
from ..webhooks.inbox import Stored

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


def verify(adapter: Processor, body: bytes, headers: Mapping[str, str]) -> Delivery:
    try:
        return adapter.parse_webhook(body, headers)
    except WebhookVerificationError as exc:
        log.warning("webhook refused: %s", exc, extra={"processor": adapter.name})
        raise ApiError(400, "invalid_signature", "the webhook signature is invalid") from None


def unavailable(adapter: Processor) -> ApiError:
    log.error("webhook not stored: database unavailable", extra={"processor": adapter.name})
    return ApiError(503, "database_unavailable", "try again later", {"Retry-After": "5"})


def answer(stored: Stored) -> dict[str, Any]:
    return {"received": True, "duplicate": stored.duplicate}


def ingest(
    request: Request, adapter: Processor, body: bytes, headers: Mapping[str, str]
) -> dict[str, Any]:
    """Verify and store a delivery, from a worker thread (the fake checkout page uses it)."""
    delivery = verify(adapter, body, headers)
    state = request.app.state
    try:
        stored = state.inbox.submit(delivery, body, state.settings.is_production).result(60)
    except SQLAlchemyError:
        raise unavailable(adapter) from None
    return answer(stored)


@router.post("/webhooks/{processor}")
async def receive(processor: str, request: Request) -> dict[str, Any]:
    adapter = request.app.state.payments.processors.get(processor)
    if adapter is None:
        raise ApiError(404, "not_found", f"no processor {processor!r} in this service")
    body = await read_body(request)
    if adapter.verifies_over_network:
        delivery = await run_in_threadpool(verify, adapter, body, request.headers)
    else:
        delivery = verify(adapter, body, request.headers)  # CPU only: no thread hop
    state = request.app.state
    try:
        future = state.inbox.submit(delivery, body, state.settings.is_production)
        stored = await asyncio.wrap_future(future)
    except SQLAlchemyError:
        raise unavailable(adapter) from None
    return answer(stored)

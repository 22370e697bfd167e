"""POST /webhooks/{processor}: verify, then store durably; the worker applies it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..db import describe
from ..errors import ApiError, database_unavailable
from ..processors.base import Processor, WebhookVerificationError
from ..processors.base import WebhookEvent as Delivery
from ..webhooks.inbox import DATABASE_ERRORS, InboxUnavailable, conflicting, malformed
from .deps import services

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


#: What reading a signed body that is no event of the processor's may raise.
UNREADABLE = (ValueError, KeyError, TypeError, OverflowError, OSError, RecursionError)


def verify(adapter: Processor, body: bytes, headers: Mapping[str, str]) -> Delivery:
    """The delivery, verified and fit to store; 400, with nothing stored, otherwise (the
    processor's retries cannot make it fit)."""
    extra = {"processor": adapter.name}
    try:
        delivery = adapter.parse_webhook(body, headers)
    except WebhookVerificationError as exc:
        log.warning("webhook refused: %s", exc, extra=extra)
        raise ApiError(400, "invalid_signature", "the webhook signature is invalid") from None
    except UNREADABLE as exc:
        log.warning("webhook refused: unreadable event (%s)", type(exc).__name__, extra=extra)
        raise ApiError(400, "invalid_event", "the body is not an event") from None
    if problem := malformed(delivery, body):
        log.warning("webhook refused: %s", problem, extra=extra)
        raise ApiError(400, "invalid_event", problem)
    return delivery


class Received(BaseModel):
    """The acknowledgement: stored durably, now or before (a duplicate)."""

    received: bool
    duplicate: bool


#: The two possible answers, encoded once: this is the service's busiest route.
ANSWERS = {
    duplicate: Received(received=True, duplicate=duplicate).model_dump_json().encode()
    for duplicate in (False, True)
}


async def ingest(
    request: Request, adapter: Processor, body: bytes, headers: Mapping[str, str]
) -> Response:
    """Verify a delivery and store it; the answer once it is durable."""
    if adapter.verifies_over_network:
        delivery = await run_in_threadpool(verify, adapter, body, headers)
    else:
        delivery = verify(adapter, body, headers)  # CPU only: no thread hop
    found = services(request)
    live = found.settings.is_production
    try:
        new = await found.inbox.store(delivery, body, live, handled=adapter.handles(delivery.type))
    except InboxUnavailable as exc:
        raise database_unavailable(str(exc)) from None  # the processor delivers it again
    if not new:
        try:
            await run_in_threadpool(conflicting, found.sessions, adapter, delivery)
        except DATABASE_ERRORS as exc:  # stored already: the answer stays 200
            extra = {"processor": adapter.name}
            log.warning("duplicate not compared: %s", describe(exc), extra=extra)
    return Response(ANSWERS[not new], media_type="application/json")


#: The path parameter, declared for the OpenAPI document only: the endpoint reads it from
#: the matched path itself, which spares this route FastAPI's parameter validation (a
#: few per cent of its throughput; bench/webhooks.py).
PROCESSOR_PARAMETER = {
    "name": "processor",
    "in": "path",
    "required": True,
    "description": "Which processor sent the event",
    "schema": {"type": "string"},
}


@router.post(
    "/webhooks/{processor}",
    response_model=Received,
    openapi_extra={"parameters": [PROCESSOR_PARAMETER]},
)
async def receive(request: Request) -> Response:
    processor: str = request.path_params["processor"]
    adapter = services(request).processors.get(processor)
    if adapter is None:
        raise ApiError(404, "not_found", f"no processor {processor!r} in this service")
    return await ingest(request, adapter, await read_body(request), request.headers)

"""POST /webhooks/{processor}: verify, then store durably; the worker applies it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..db import describe
from ..errors import ApiError, database_unavailable, failure
from ..processors.base import Processor, WebhookVerificationError
from ..processors.base import WebhookEvent as Delivery
from ..webhooks.inbox import DATABASE_ERRORS, InboxUnavailable, conflicting, malformed
from .deps import Services

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024


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
    found: Services, adapter: Processor, body: bytes, headers: Mapping[str, str]
) -> bool:
    """Verify a delivery and store it, durably: whether it is a duplicate."""
    if adapter.verifies_over_network:
        delivery = await run_in_threadpool(verify, adapter, body, headers)
    else:
        delivery = verify(adapter, body, headers)  # CPU only: no thread hop
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
    return not new


class ClientGone(Exception):
    """The client closed the connection before its body arrived: nobody to answer."""


async def read_body(receive: Receive) -> bytes:
    """The raw body (signatures cover the exact bytes), refused beyond 1 MiB."""
    body = b""
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "webhook bodies are limited to 1 MiB")
        more = message.get("more_body", False)
    return body


class WebhookIngest:
    """Pure ASGI, in front of the router: POST /webhooks/{processor} for each processor of
    this service, verified, stored durably, then answered.

    The service's busiest route, and the one a processor retries against when it is slow,
    so it skips what it does not use of FastAPI's request cycle (routing, dependency
    resolution, the request and response objects): it is measured against a bare FastAPI
    no-op (bench/, README "Benchmark"). Its errors have the API's JSON format, and the
    route below documents it (and answers a processor this service does not have)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self.paths = {f"/webhooks/{name}": p for name, p in services.processors.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        adapter = self.paths.get(scope["path"]) if scope["type"] == "http" else None
        if adapter is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = ROUTE  # for the metrics, as the router would have set it
        headers = Headers(scope=scope)
        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise ApiError(413, "payload_too_large", "webhook bodies are limited to 1 MiB")
            duplicate = await ingest(self.services, adapter, await read_body(receive), headers)
        except ClientGone:
            return
        except ApiError as exc:
            await failure(f"POST {scope['path']}", exc)(scope, receive, send)
            return
        # A new message each time: the middleware around may add to its headers.
        start = {"type": "http.response.start", "status": 200, "headers": [*HEADERS[duplicate]]}
        await send(start)
        await send({"type": "http.response.body", "body": ANSWERS[duplicate]})


#: Each answer's headers.
HEADERS = {
    duplicate: (
        (b"content-type", b"application/json"),
        (b"content-length", str(len(answer)).encode()),
    )
    for duplicate, answer in ANSWERS.items()
}


#: The path parameter, declared for the OpenAPI document only.
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
    """A processor's event: verified, then stored durably before the answer; a delivery
    stored before is answered `duplicate`. `WebhookIngest` answers the processors of this
    service before routing; what reaches this route names another one."""
    processor: str = request.path_params["processor"]
    raise ApiError(404, "not_found", f"no processor {processor!r} in this service")


#: The route above: what `WebhookIngest` answers for, as the metrics name it.
ROUTE = router.routes[-1]

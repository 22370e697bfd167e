"""Card data never enters this service: a request that carries it is refused.

Buyers type their card into the processor's page (or the processor's embedded fields), so
no request to this service has a reason to hold a card number or a security code.
`CardDataGuard`, pure ASGI middleware in front of every route, reads the body of each POST,
PUT, PATCH and DELETE (webhooks excepted: they come signed from the processor) and answers
422 `card_data_refused` when:

- a JSON string or number, or a form value, anywhere in the body holds a Luhn-valid run of
  13-19 digits (whole, or in groups joined by single spaces or dashes);
- a JSON key or form field is named like a card number or a security code, whatever its
  value;
- a body of another type holds such a run in its text.

The answer names neither the value nor the field; the refusal is logged without either,
and no route runs, so nothing is stored. Bodies over 1 MiB are refused with 413 unread.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logging import contains_card_number

log = logging.getLogger(__name__)

#: Payment API and form bodies are small; a larger write request is refused unread (413).
MAX_BODY_BYTES = 64 * 1024
CHECKED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Field names (lowercase, without separators) that only card data goes by.
CARD_FIELDS = frozenset(
    {
        "pan",
        "cardnumber",
        "cardno",
        "cardnum",
        "ccnumber",
        "ccnum",
        "creditcardnumber",
        "primaryaccountnumber",
        "cvc",
        "cvc2",
        "cvv",
        "cvv2",
        "cvn",
        "csc",
        "securitycode",
        "cardcode",
        "cardcvc",
        "cardcvv",
        "cardverificationcode",
        "cardverificationvalue",
    }
)
_SEPARATORS = re.compile(r"[\s_.-]+")
REFUSAL = {
    "error": {
        "code": "card_data_refused",
        "message": "card data must never be sent to this service; buyers enter their card "
        "on the processor's checkout",
    }
}


def is_card_field(name: str) -> bool:
    return _SEPARATORS.sub("", name).lower() in CARD_FIELDS


def _json_items(value: Any) -> Iterator[tuple[str, str]]:
    """(field name, text) pairs of a parsed JSON document: each key as ("key", "key"),
    each scalar as ("", "value"), numbers kept as written."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, key
            yield from _json_items(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_items(item)
    elif value is not None:
        yield "", str(value)


def carries_card_data(body: bytes, content_type: str) -> bool:
    """Whether a request body holds a card number or a card-data field."""
    text = body.decode("utf-8", "replace")
    items: list[tuple[str, str]]
    if "json" in content_type:
        try:
            document = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
        except ValueError:
            return contains_card_number(text)
        items = list(_json_items(document))
    elif content_type.startswith("application/x-www-form-urlencoded"):
        items = parse_qsl(text, keep_blank_values=True)
    else:
        return contains_card_number(text)
    return any(is_card_field(name) or contains_card_number(text) for name, text in items)


class CardDataGuard:
    """Pure ASGI middleware: reads a write request's body, refuses card data, replays it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in CHECKED_METHODS
            or scope["path"].startswith("/webhooks/")
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                too_large = {"error": {"code": "payload_too_large", "message": "limit is 64 KiB"}}
                await JSONResponse(too_large, 413)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = dict(scope.get("headers", []))
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if body and carries_card_data(body, content_type):
            log.warning(
                "refused a request carrying card data",
                extra={"method": scope["method"], "path": scope["path"]},
            )
            await JSONResponse(REFUSAL, 422)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

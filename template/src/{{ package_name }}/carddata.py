"""Card data never enters this service, and neither does input it cannot store.

Buyers type their card into the processor's page (or the processor's embedded fields), so
no request to this service has a reason to hold a card number or a security code.
`CardDataGuard`, pure ASGI middleware in front of every route but the webhooks (they come
signed from the processor), sees what the app will parse and refuses, before any route runs:

- with 422 `card_data_refused`: a card number (a Luhn-valid run of 13-19 digits of any
  script, whole or in groups joined by any space, dash, dot, slash or invisible character:
  `logging.contains_card_number`) in the path, the query, the Idempotency-Key
  header, any JSON string or number or form value of the body; a JSON key or form field
  named like a card number or a security code, whatever its value; such a run in the text
  of a body that is not valid JSON;
- with 422 `validation_error`: a control character (NUL and the like; tab, line feed and
  carriage return are fine in a body's text) in any of those places;
- with 415: a body that is neither JSON nor a form, or declares a charset other than UTF-8;
  with 400: a body that is not UTF-8 (RFC 8259: JSON between systems is UTF-8), or JSON
  nested deeper than `MAX_DEPTH`; with 413, unread, a body over 64 KiB.

The answer names neither the value nor the field; a refusal of card data is logged without
either, and no route runs, so nothing is stored.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .limits import CONTROL_CHARACTERS as CONTROL_CHARACTERS_RE
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
#: JSON deeper than this is refused (the API's bodies are two levels deep).
MAX_DEPTH = 32
#: Control characters (`limits.CONTROL_CHARACTERS`): a body's text may hold tab, line feed
#: and carriage return.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Request headers the service stores (the Idempotency-Key, with its stored response).
STORED_HEADERS = (b"idempotency-key",)
JSON_TYPES = ("", "application/json")
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused before any route sees it."""

    status: int
    code: str
    message: str

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message}}, self.status)


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


CARD_DATA = Refusal(
    422,
    "card_data_refused",
    "card data must never be sent to this service; buyers enter their card on the "
    "processor's checkout",
)
CONTROL_CHARACTERS = Refusal(
    422, "validation_error", "text must not contain control characters (such as NUL)"
)
NOT_UTF8 = Refusal(400, "bad_request", "the body must be UTF-8")
TOO_DEEP = Refusal(400, "bad_request", f"JSON must not be nested deeper than {MAX_DEPTH} levels")
MEDIA_TYPE = Refusal(
    415,
    "unsupported_media_type",
    "send JSON (application/json) or a form (application/x-www-form-urlencoded), in UTF-8",
)
TOO_LARGE = Refusal(413, "payload_too_large", "limit is 64 KiB")


def is_card_field(name: str) -> bool:
    return _SEPARATORS.sub("", name).lower() in CARD_FIELDS


def _json_items(document: Any) -> Iterator[tuple[str, str]]:
    """(field name, text) pairs of a parsed JSON document: each key as ("key", "key"),
    each scalar as ("", "value"), numbers kept as written. Iterative, with the depth
    checked: a deep document costs no stack and is refused."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_DEPTH:
            raise Refused(TOO_DEEP)
        if isinstance(value, dict):
            for key, item in value.items():
                yield key, key
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif value is not None:
            yield "", str(value)


def _media_type(content_type: str) -> tuple[str, str | None]:
    """(media type, charset) of a Content-Type header, lowercase."""
    media, _, parameters = content_type.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip() == "charset":
            charset = value.strip().strip('"')
    return media.strip(), charset


def body_items(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The (field name, text) pairs of a body as the app will parse it; `Refusal` for a
    body it must not parse (not UTF-8 JSON or form, too deep): `Refused`."""
    media, charset = _media_type(content_type.lower())
    is_json = media in JSON_TYPES or media.endswith("+json")
    if not (is_json or media == FORM_TYPE) or charset not in (None, "utf-8", "utf8"):
        raise Refused(MEDIA_TYPE)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(NOT_UTF8) from None
    if not is_json:
        return parse_qsl(text, keep_blank_values=True)
    try:
        document = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
    except RecursionError:
        raise Refused(TOO_DEEP) from None
    except ValueError:
        return [("", text)]  # the route answers 422; the text is still looked at
    return list(_json_items(document))


def check_body(body: bytes, content_type: str) -> None:
    """Raise `Refused` with what a write request's body earns, if anything."""
    for name, text in body_items(body, content_type):
        if is_card_field(name) or contains_card_number(text):
            raise Refused(CARD_DATA)
        if _BODY_CONTROL.search(text):
            raise Refused(CONTROL_CHARACTERS)


def carries_card_data(body: bytes, content_type: str) -> bool:
    """Whether a request body is refused for holding a card number or a card-data field."""
    try:
        check_body(body, content_type)
    except Refused as refused:
        return refused.refusal is CARD_DATA
    return False


def check_address(scope: Scope) -> None:
    """Raise `Refused` with what a request's path, query or stored headers earn, if anything."""
    query = scope.get("query_string", b"").decode("latin-1")
    texts = [scope["path"], query, unquote_plus(query)]
    texts += [v.decode("latin-1") for k, v in scope.get("headers", []) if k in STORED_HEADERS]
    for text in texts:
        if contains_card_number(text):
            raise Refused(CARD_DATA)
        if CONTROL_CHARACTERS_RE.search(text):
            raise Refused(CONTROL_CHARACTERS)


class CardDataGuard:
    """Pure ASGI middleware: refuses what must not reach a route, replays the body read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        try:
            check_address(scope)
        except Refused as refused:
            await self.refuse(refused.refusal, scope, receive, send)
            return
        if scope["method"] not in CHECKED_METHODS:
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
                await TOO_LARGE.response()(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = dict(scope.get("headers", []))
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        try:
            if body:
                check_body(body, content_type)
        except Refused as refused:
            await self.refuse(refused.refusal, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def refuse(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        if refusal is CARD_DATA:
            # Neither the path (it may be where the number is) nor the value.
            log.warning("refused a request carrying card data", extra={"method": scope["method"]})
        await refusal.response()(scope, receive, send)

"""The JSON error format of every response: {"error": {"code": "...", "message": "..."}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import db
from .domain.errors import DomainError
from .processors.base import ProcessorError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. decline_code on a declined card

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: {"error": {"code": "...", "message": "..."}}."""

    error: ErrorDetail


#: The error answers of the API, declared in its OpenAPI schema (422 replaces FastAPI's own
#: validation-error shape, which this service never sends).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Bad request (a webhook with a missing, wrong or stale signature)"),
        (401, "Missing or invalid bearer token"),
        (402, "The card was declined"),
        (404, "Not found"),
        (409, "Conflict (the request contradicts the current state)"),
        (413, "Body too large: 64 KiB for the API and the pages, 1 MiB for webhooks"),
        (422, "Invalid request, or card data (refused unread: `card_data_refused`)"),
        (502, "The processor answered with an error"),
        (503, "The processor or the database is unavailable; retry after Retry-After"),
    )
}


class ApiError(Exception):
    """An error answered to the client as JSON with a fitting status code."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        cause: str | None = None,
        **extra: str,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers
        self.cause = cause  # for the log only
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


#: How each kind of processor failure is answered.
_PROCESSOR_ERRORS: dict[str, tuple[int, str]] = {
    "declined": (402, "card_declined"),
    "rate_limited": (503, "processor_rate_limited"),
    "invalid_request": (422, "processor_invalid_request"),
    "authentication": (500, "processor_authentication"),
    "unavailable": (503, "processor_unavailable"),
    "error": (502, "processor_error"),
}


#: Seconds a client is asked to wait when the database is away.
DATABASE_RETRY_AFTER_S = 5


def database_unavailable(cause: BaseException | str) -> ApiError:
    """503 + Retry-After; `cause` (an exception, or its description) goes to the log only."""
    return ApiError(
        503,
        "database_unavailable",
        "the database is unavailable; try again later",
        {"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        cause=cause if isinstance(cause, str) else db.describe(cause),
    )


def as_api_error(exc: BaseException) -> ApiError | None:
    """The API error for a domain or processor failure, or a database that cannot be
    reached (None for anything else)."""
    if isinstance(exc, ApiError):
        return exc
    if db.unavailable(exc):
        return database_unavailable(exc)
    if isinstance(exc, DomainError):
        return ApiError(exc.status_code, exc.code, exc.message)
    if isinstance(exc, ProcessorError):
        status, code = _PROCESSOR_ERRORS[exc.kind]
        headers = None
        if status == 503:
            headers = {"Retry-After": str(exc.retry_after or 5)}
        extra = {"decline_code": exc.decline_code} if exc.decline_code else {}
        return ApiError(status, code, exc.message, headers, **extra)
    return None


def error_response(
    status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status_code, headers=headers)


def failure(where: str, exc: BaseException) -> JSONResponse:
    """The answer to a request that failed with `exc`, logged once: a server-side failure
    (5xx) with its cause, an unexpected one with its traceback."""
    error = as_api_error(exc)
    if error is None:
        log.error("%s failed: unhandled error", where, exc_info=(type(exc), exc, exc.__traceback__))
        return error_response(500, "internal_error", "internal error")
    if error.status_code >= 500:
        log.error("%s failed: %s (%s)", where, error.code, error.cause or error.message)
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    return failure(f"{request.method} {request.url.path}", exc)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Name the fields and say what is wrong, never echo the submitted values.
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return error_response(422, "validation_error", "; ".join(parts) or "invalid request")


def install_error_handlers(app: FastAPI) -> None:
    for kind in (ApiError, DomainError, ProcessorError):
        app.add_exception_handler(kind, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Anything else (a database outage, a bug) reaches `edge.Edge`.

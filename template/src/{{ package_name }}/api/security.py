"""Bearer-token authentication for /api/*, compared in constant time."""

from __future__ import annotations

import secrets

from fastapi import Request
from pydantic import SecretStr

from ..errors import ApiError
from .deps import SettingsDep


def require_bearer(request: Request, expected: SecretStr) -> None:
    """The request's `Authorization: Bearer <token>` is `expected`, compared in constant
    time; else 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    valid = scheme.lower() == "bearer" and secrets.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    )
    if not valid:
        raise ApiError(
            401,
            "unauthorized",
            "missing or invalid bearer token",
            {"WWW-Authenticate": "Bearer"},
        )


async def require_api_token(request: Request, settings: SettingsDep) -> None:
    """Async: no thread hop for a check that does no I/O."""
    if settings.api_token is None:
        raise ApiError(401, "unauthorized", "API_TOKEN is not set: the API is closed until it is")
    require_bearer(request, settings.api_token)

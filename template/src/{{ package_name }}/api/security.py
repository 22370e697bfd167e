"""Bearer-token authentication for /api/*, compared in constant time."""

from __future__ import annotations

import secrets

from fastapi import Request

from ..errors import ApiError
from .deps import SettingsDep


async def require_api_token(request: Request, settings: SettingsDep) -> None:
    """Compares in constant time; async: no thread hop for a check that does no I/O."""
    expected = settings.api_token
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if expected is None:
        raise ApiError(401, "unauthorized", "API_TOKEN is not set: the API is closed until it is")
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

"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError

from ..db import ping
from ..errors import database_unavailable
from .deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is up (it does not look at dependencies). Async: no thread hand-off,
    so a liveness probe is answered even while the thread pool is busy."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(engine: EngineDep) -> dict[str, Any]:
    """The service can do its work: the database answers."""
    try:
        ping(engine)
    except SQLAlchemyError as exc:
        raise database_unavailable(exc) from None
    return {"status": "ready", "database": "ok"}

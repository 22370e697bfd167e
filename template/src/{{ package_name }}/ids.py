"""Our ids and the time: neutral helpers that every layer may use."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """An opaque, URL-safe id with a type prefix: 120 random bits, e.g. `pay_x3k...`."""
    token = base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
    return f"{prefix}_{token}"


def utcnow() -> datetime:
    return datetime.now(UTC)

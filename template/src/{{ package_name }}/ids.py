"""Our ids and the time: neutral helpers that every layer may use."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """An opaque, URL-safe id with a type prefix: 120 random bits, e.g. `pay_x3k...`.

    (Base32: its only digits are 2-7, so no id holds a run of 13 digits that the card-data
    guard would read as a card number, as hex ids now and then do.)"""
    token = base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
    return f"{prefix}_{token}"


def stable_id(prefix: str, seed: str) -> str:
    """An id shaped like `new_id`'s, the same for the same seed (a digest of it)."""
    token = base64.b32encode(hashlib.sha256(seed.encode()).digest()[:15]).decode("ascii").lower()
    return f"{prefix}_{token}"


def utcnow() -> datetime:
    return datetime.now(UTC)

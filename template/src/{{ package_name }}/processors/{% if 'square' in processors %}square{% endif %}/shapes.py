"""Square's objects read into ours: times and money (no SDK here)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def square_time(value: Any) -> datetime | None:
    """A Square RFC 3339 time, or a date ("2026-12-01", midnight UTC), as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def amount_of(money: Mapping[str, Any] | None) -> int:
    """Square's money object (already in minor units) as an int (0 if absent)."""
    return int((money or {}).get("amount") or 0)

"""A merchant-facing event as hooks receive it, webhooks carry it and GET /api/events
lists it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..models import MerchantEvent


@dataclass(frozen=True)
class Event:
    #: `evt_...`: the same on every delivery and retry (the `webhook-id` header): dedup by it.
    id: str
    #: One of `domain/events.py` TYPES, e.g. "payment.succeeded".
    type: str
    timestamp: datetime
    #: The object as `GET /api/...` showed it when the event was written.
    data: dict[str, Any]
    #: The processor event that caused it (None: an API call).
    processor_event_id: str | None

    @classmethod
    def of(cls, row: MerchantEvent) -> Event:
        return cls(
            id=row.id,
            type=row.type,
            timestamp=row.created_at,
            data=json.loads(row.data),
            processor_event_id=row.processor_event_id,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": self.timestamp.isoformat(),
            "data": self.data,
            "processor_event_id": self.processor_event_id,
        }

    def body(self) -> str:
        """The webhook body: compact JSON, as signed."""
        return json.dumps(self.as_json(), separators=(",", ":"))

"""The fake processor's events: each carries one neutral fact, as JSON, and is signed with
HMAC-SHA256 over `timestamp.body` (`fake-signature: t=...,v1=...`), like Stripe's.

The fake speaks facts because it stands in for every processor: its events exercise the
domain's rules, not a processor's shapes (each real processor's tests do that).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import types
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Union, get_args, get_origin, get_type_hints

from ...domain.facts import (
    DisputeObserved,
    Fact,
    PaymentMethodObserved,
    PaymentObserved,
    RefundObserved,
)
from ...ids import new_id
from ..base import Reader, WebhookEvent, WebhookVerificationError

SIGNATURE_HEADER = "fake-signature"
TOLERANCE_S = 300

#: Event type -> the fact it carries.
FACTS: dict[str, type[Fact]] = {
    "payment.observed": PaymentObserved,
    "refund.observed": RefundObserved,
    "dispute.observed": DisputeObserved,
    "payment_method.observed": PaymentMethodObserved,
}


def encode(value: Any) -> Any:
    """A fact (or any value in it) as JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def decode(kind: type[Any], data: Mapping[str, Any]) -> Any:
    """A dataclass (a fact, or a part of one) from JSON data made by `encode`."""
    hints = get_type_hints(kind)
    return kind(
        **{f.name: _value(hints[f.name], data[f.name]) for f in dataclasses.fields(kind)
           if f.name in data}
    )  # fmt: skip


def _value(hint: Any, raw: Any) -> Any:
    if raw is None:
        return None
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return decode(hint, raw)
    if hint is datetime:
        return datetime.fromisoformat(raw)
    return raw


def reader(kind: type[Fact]) -> Reader:
    def read(event: WebhookEvent) -> list[Fact]:
        fact: Fact = decode(kind, event.data)
        return [fact]

    return read


#: Event type -> reader: the payment events this processor handles.
READERS: dict[str, Reader] = {name: reader(kind) for name, kind in FACTS.items()}


def type_of(fact: Fact, facts: Mapping[str, type[Fact]]) -> str:
    return next(name for name, kind in facts.items() if isinstance(fact, kind))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed(secret: str, event_type: str, fact: Fact) -> tuple[bytes, dict[str, str]]:
    """A signed event carrying `fact`: (body, headers)."""
    created = int(time.time())
    body = json.dumps(
        {
            "id": new_id("fk_evt"),
            "object": "event",
            "type": event_type,
            "created": created,
            "livemode": False,
            "data": encode(fact),
        }
    ).encode()
    return body, {SIGNATURE_HEADER: f"t={created},v1={sign(secret, created, body)}"}


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    header = headers.get(SIGNATURE_HEADER, "")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        raise WebhookVerificationError("missing or malformed signature") from None
    if not hmac.compare_digest(sign(secret, timestamp, body), parts.get("v1", "")):
        raise WebhookVerificationError("the signature does not match")
    if abs(time.time() - timestamp) > TOLERANCE_S:
        raise WebhookVerificationError("the signature is too old or in the future")


def parse(body: bytes) -> WebhookEvent:
    event = json.loads(body)
    return WebhookEvent(
        processor="fake",
        event_id=str(event["id"]),
        type=str(event["type"]),
        livemode=bool(event.get("livemode", False)),
        created_at=datetime.fromtimestamp(int(event["created"]), UTC),
        data=event["data"],
    )

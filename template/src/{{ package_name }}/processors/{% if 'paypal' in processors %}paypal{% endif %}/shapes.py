"""PayPal's objects read into ours: amounts, times, events, links (no SDK here).

The adapter and the event readers both use these, so that an object is read the same way
wherever it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

#: Currencies PayPal amounts carry without decimals.
ZERO_DECIMAL = frozenset({"huf", "jpy", "twd"})


def to_value(amount: int, currency: str) -> dict[str, str]:
    """Minor units as PayPal's money object: {"currency_code": "USD", "value": "19.99"}."""
    if currency.lower() in ZERO_DECIMAL:
        value = str(amount)
    else:
        value = f"{amount // 100}.{amount % 100:02d}"
    return {"currency_code": currency.upper(), "value": value}


def minor_units(money: Mapping[str, Any] | None) -> int:
    """PayPal's money object (`value`, or a sale's `total`) in minor units (0 if absent)."""
    if not money:
        return 0
    value = money.get("value", money.get("total"))
    currency = str(money.get("currency_code", money.get("currency", ""))).lower()
    if value is None:
        return 0
    exponent = 0 if currency in ZERO_DECIMAL else 2
    return int(Decimal(str(value)).scaleb(exponent).to_integral_value())


def paypal_time(value: Any) -> datetime | None:
    """A PayPal RFC 3339 time ("2026-11-26T10:00:00Z") as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def link(resource: Mapping[str, Any], *rels: str) -> str | None:
    """The first HATEOAS link of `resource` with one of the relations `rels`."""
    for rel in rels:
        for item in resource.get("links") or []:
            if item.get("rel") == rel:
                return str(item["href"])
    return None


def order_custom_id(order: Mapping[str, Any]) -> str | None:
    """Our payment id, which the order's purchase unit carries."""
    units = order.get("purchase_units") or [{}]
    custom = units[0].get("custom_id") or units[0].get("reference_id")
    return str(custom) if custom else None


def order_capture(order: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The order's capture, once captured."""
    units = order.get("purchase_units") or [{}]
    captures = (units[0].get("payments") or {}).get("captures") or []
    return captures[0] if captures else None


def order_authorization(order: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The order's authorization (intent AUTHORIZE), once authorized."""
    units = order.get("purchase_units") or [{}]
    held = (units[0].get("payments") or {}).get("authorizations") or []
    return held[0] if held else None

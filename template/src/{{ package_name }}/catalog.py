"""catalog.yml: what this service sells (products, and plans where it has subscriptions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, cast

import yaml

from . import limits
from .processors.base import CatalogItem, Coupon, Duration, Interval

#: catalog.yml sits at the project root, beside `src/`.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "catalog.yml"
INTERVALS = ("day", "week", "month", "year")
USAGES = ("licensed", "metered")
DURATIONS = ("once", "repeating", "forever")
CODE_PATTERN = re.compile(limits.PROMOTION_CODE)
#: A meter's name: the event name usage is reported under (Stripe: at most 100 characters).
METER_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class Product:
    key: str
    name: str
    amount: int
    currency: str
    description: str

    def as_item(self) -> CatalogItem:
        return CatalogItem(self.key, self.name, self.description, self.amount, self.currency)


@dataclass(frozen=True)
class Plan:
    """A recurring plan: its price, billing period, trial and the features it grants."""

    key: str
    name: str
    amount: int
    currency: str
    description: str
    interval: Interval
    interval_count: int
    trial_days: int
    entitlements: tuple[str, ...]
    #: A metered plan bills `amount` per unit of usage reported under this meter
    #: (POST /api/subscriptions/{id}/usage); None: a fixed price per seat.
    meter: str | None = None

    def as_item(self) -> CatalogItem:
        return CatalogItem(
            self.key,
            self.name,
            self.description,
            self.amount,
            self.currency,
            interval=self.interval,
            interval_count=self.interval_count,
            trial_days=self.trial_days,
            meter=self.meter,
        )


class CatalogError(ValueError):
    pass


def _product(entry: Any) -> Product:
    if not isinstance(entry, dict):
        raise CatalogError("each product must be a mapping")
    try:
        product = Product(
            key=str(entry["key"]),
            name=str(entry["name"]),
            amount=int(entry["amount"]),
            currency=str(entry["currency"]).lower(),
            description=str(entry.get("description") or entry["name"]),
        )
    except KeyError as exc:
        raise CatalogError(f"a product lacks {exc.args[0]!r}") from None
    if product.amount <= 0 or len(product.currency) != 3:
        raise CatalogError(f"product {product.key!r}: amount must be > 0, currency 3 letters")
    return product


def _entries(path: Path | None, section: str) -> list[Any]:
    path = path or DEFAULT_PATH
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(data.get(section) or [])


def load_products(path: Path | None = None) -> dict[str, Product]:
    """The catalog's products by key; no file means no products."""
    products = [_product(entry) for entry in _entries(path, "products")]
    return {p.key: p for p in products}


def _plan(entry: Any) -> Plan:
    if not isinstance(entry, dict):
        raise CatalogError("each plan must be a mapping")
    interval = str(entry.get("interval"))
    if interval not in INTERVALS:
        raise CatalogError(
            f"plan {entry.get('key')!r}: interval must be one of {', '.join(INTERVALS)}"
        )
    try:
        plan = Plan(
            key=str(entry["key"]),
            name=str(entry["name"]),
            amount=int(entry["amount"]),
            currency=str(entry["currency"]).lower(),
            description=str(entry.get("description") or entry["name"]),
            interval=cast(Interval, interval),
            interval_count=int(entry.get("interval_count", 1)),
            trial_days=int(entry.get("trial_days", 0)),
            entitlements=tuple(str(e) for e in entry.get("entitlements") or ()),
            meter=_meter(entry),
        )
    except KeyError as exc:
        raise CatalogError(f"a plan lacks {exc.args[0]!r}") from None
    if plan.amount <= 0 or len(plan.currency) != 3:
        raise CatalogError(f"plan {plan.key!r}: amount must be > 0, currency 3 letters")
    if plan.interval_count < 1 or plan.trial_days < 0:
        raise CatalogError(f"plan {plan.key!r}: interval_count must be >= 1, trial_days >= 0")
    return plan


def _meter(entry: dict[str, Any]) -> str | None:
    """`usage: metered` with its `meter`, or licensed (the default) with none."""
    usage = str(entry.get("usage", "licensed"))
    meter = entry.get("meter")
    if usage not in USAGES:
        raise CatalogError(f"plan {entry.get('key')!r}: usage must be licensed or metered")
    if usage == "licensed":
        if meter is not None:
            raise CatalogError(f"plan {entry.get('key')!r}: a meter needs usage: metered")
        return None
    if not isinstance(meter, str) or not METER_PATTERN.fullmatch(meter):
        raise CatalogError(
            f"plan {entry.get('key')!r}: a metered plan needs a meter name "
            "(lowercase letters, digits and underscores, starting with a letter)"
        )
    return meter


def load_plans(path: Path | None = None) -> dict[str, Plan]:
    """The catalog's subscription plans by key."""
    plans = [_plan(entry) for entry in _entries(path, "plans")]
    return {p.key: p for p in plans}


def _coupon(entry: Any) -> Coupon:
    if not isinstance(entry, dict):
        raise CatalogError("each coupon must be a mapping")
    key = str(entry.get("key"))
    percent, amount = entry.get("percent_off"), entry.get("amount_off")
    duration = str(entry.get("duration", "once"))
    months = entry.get("duration_in_months")
    redeem_by = entry.get("redeem_by")
    if not CODE_PATTERN.fullmatch(str(entry.get("code", ""))):
        raise CatalogError(f"coupon {key!r}: code must be letters, digits and dashes")
    if (percent is None) == (amount is None):
        raise CatalogError(f"coupon {key!r}: give percent_off or amount_off (and currency)")
    if percent is not None and not (isinstance(percent, int) and 1 <= percent <= 100):
        raise CatalogError(f"coupon {key!r}: percent_off must be a whole number from 1 to 100")
    if amount is not None and not (
        isinstance(amount, int) and amount > 0 and len(str(entry.get("currency", ""))) == 3
    ):
        raise CatalogError(f"coupon {key!r}: amount_off must be > 0, with a 3-letter currency")
    if duration not in DURATIONS or (duration == "repeating") != isinstance(months, int):
        raise CatalogError(
            f"coupon {key!r}: duration is once, forever, or repeating with duration_in_months"
        )
    if isinstance(redeem_by, date) and not isinstance(redeem_by, datetime):
        redeem_by = datetime.combine(redeem_by, time.max, UTC)  # through that day (UTC)
    if redeem_by is not None and not (isinstance(redeem_by, datetime) and redeem_by.tzinfo):
        raise CatalogError(f"coupon {key!r}: redeem_by must be a date, or a time with a zone")
    max_redemptions = entry.get("max_redemptions")
    if max_redemptions is not None and not (
        isinstance(max_redemptions, int) and max_redemptions > 0
    ):
        raise CatalogError(f"coupon {key!r}: max_redemptions must be > 0")
    return Coupon(
        key=key,
        code=str(entry["code"]).upper(),
        name=str(entry.get("name") or entry["code"]),
        percent_off=percent,
        amount_off=amount,
        currency=str(entry["currency"]).lower() if amount is not None else None,
        duration=cast(Duration, duration),
        duration_in_months=months if duration == "repeating" else None,
        max_redemptions=max_redemptions,
        redeem_by=redeem_by,
    )


def load_coupons(path: Path | None = None) -> dict[str, Coupon]:
    """The catalog's coupons by promotion code (upper case: codes ignore case)."""
    coupons = [_coupon(entry) for entry in _entries(path, "coupons")]
    found = {c.code: c for c in coupons}
    if len(found) != len(coupons) or len({c.key for c in coupons}) != len(coupons):
        raise CatalogError("coupon keys and codes must be unique")
    return found

"""`catalog sync` at Stripe: a product per catalog key, and its price found by lookup key.

A price is never modified: a changed amount, currency, billing period or meter creates a
new price, moves the lookup key to it, and archives the old one. Products get a stable id
from the key. A metered plan's price bills per unit of a billing meter, found by its event
name or created (summing the `value` of the meter events of a `stripe_customer_id`).

A coupon is never modified either: its id carries a digest of its terms, so changed terms
make a new coupon, and the promotion code (unique among active codes) moves to it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import stripe

from ..base import CatalogItem, CatalogRef, Coupon, ProcessorError
from .errors import stripe_errors

if TYPE_CHECKING:
    from stripe.params import CouponCreateParams, PriceCreateParams, PriceCreateParamsRecurring


def same_terms(price: stripe.Price, item: CatalogItem, meter_id: str | None) -> bool:
    if price.unit_amount != item.amount or price.currency != item.currency:
        return False
    recurring = price.recurring
    if item.interval is None:
        return recurring is None
    return (
        recurring is not None
        and recurring.interval == item.interval
        and recurring.interval_count == item.interval_count
        and recurring.meter == meter_id
    )


def ensure_meter(client: stripe.StripeClient, event_name: str) -> str:
    """The active billing meter of this event name, created once."""
    with stripe_errors():
        for meter in client.v1.billing.meters.list({"status": "active"}).auto_paging_iter():
            if meter.event_name == event_name:
                return meter.id
        created = client.v1.billing.meters.create(
            {
                "display_name": event_name,
                "event_name": event_name,
                "default_aggregation": {"formula": "sum"},
                "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
                "value_settings": {"event_payload_key": "value"},
            },
            options={"idempotency_key": f"catalog:meter:{event_name}"},
        )
    return created.id


def sync_price(client: stripe.StripeClient, item: CatalogItem) -> CatalogRef:
    """The product and its price (recurring for a plan); a new price when the terms change."""
    product_id = f"cp_{item.key}"
    meter_id = ensure_meter(client, item.meter) if item.meter else None
    with stripe_errors():
        found = client.v1.prices.list({"lookup_keys": [item.key], "active": True})
    current = found.data[0] if found.data else None
    if current and same_terms(current, item, meter_id):
        return CatalogRef(product_id=str(current.product), price_id=current.id, created=False)
    with stripe_errors():
        try:
            client.v1.products.retrieve(product_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise
            client.v1.products.create(
                {"id": product_id, "name": item.name, "description": item.description},
                options={"idempotency_key": f"catalog:{product_id}:create"},
            )
        previous = current.id if current else "none"
        params: PriceCreateParams = {
            "product": product_id,
            "unit_amount": item.amount,
            "currency": item.currency,
            "lookup_key": item.key,
            "transfer_lookup_key": True,
            "metadata": {"catalog_key": item.key},
        }
        terms = f"{item.amount}:{item.currency}"
        if item.interval is not None:
            recurring: PriceCreateParamsRecurring = {
                "interval": item.interval,
                "interval_count": item.interval_count,
            }
            terms += f":{item.interval_count}{item.interval}"
            if meter_id is not None:
                recurring["usage_type"] = "metered"
                recurring["meter"] = meter_id
                terms += f":{meter_id}"
            params["recurring"] = recurring
        price = client.v1.prices.create(
            params,
            options={"idempotency_key": f"catalog:{item.key}:{terms}:{previous}"},
        )
        if current is not None:
            client.v1.prices.update(current.id, {"active": False})
    return CatalogRef(
        product_id=product_id,
        price_id=price.id,
        created=True,
        archived_price_id=current.id if current else None,
    )


def coupon_params(coupon: Coupon, coupon_id: str) -> CouponCreateParams:
    params: CouponCreateParams = {
        "id": coupon_id,
        "name": coupon.name,
        "duration": coupon.duration,
        "metadata": {"coupon_key": coupon.key},
    }
    if coupon.percent_off is not None:
        params["percent_off"] = coupon.percent_off
    if coupon.amount_off is not None and coupon.currency is not None:
        params["amount_off"], params["currency"] = coupon.amount_off, coupon.currency
    if coupon.duration_in_months is not None:
        params["duration_in_months"] = coupon.duration_in_months
    if coupon.max_redemptions is not None:
        params["max_redemptions"] = coupon.max_redemptions
    if coupon.redeem_by is not None:
        params["redeem_by"] = int(coupon.redeem_by.timestamp())
    return params


def sync_coupon(client: stripe.StripeClient, coupon: Coupon) -> CatalogRef:
    """The coupon of these terms and the promotion code pointing at it, made once."""
    digest = hashlib.sha256(coupon.terms.encode()).hexdigest()[:12]
    coupon_id = f"{coupon.key}-{digest}"
    with stripe_errors():
        try:
            client.v1.coupons.retrieve(coupon_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise
            client.v1.coupons.create(
                coupon_params(coupon, coupon_id),
                options={"idempotency_key": f"catalog:coupon:{coupon_id}"},
            )
        found = client.v1.promotion_codes.list({"code": coupon.code, "active": True})
        current = found.data[0] if found.data else None
        if current is not None and current.promotion.coupon == coupon_id:
            return CatalogRef(product_id=coupon_id, price_id=current.id, created=False)
        if current is not None:
            # The code moves only from a coupon of ours: never a code made in the dashboard.
            made_for = (current.to_dict().get("metadata") or {}).get("coupon_key")
            if made_for != coupon.key:
                raise ProcessorError(
                    "invalid_request",
                    f"Stripe has an active code {coupon.code} that catalog sync did not make: "
                    "deactivate it in the dashboard, or choose another code",
                )
            client.v1.promotion_codes.update(current.id, {"active": False})
        previous = current.id if current is not None else "none"
        code = client.v1.promotion_codes.create(
            {
                "promotion": {"type": "coupon", "coupon": coupon_id},
                "code": coupon.code,
                "metadata": {"coupon_key": coupon.key},
            },
            # The code it replaces is in the key: terms changed back make a code again.
            options={"idempotency_key": f"catalog:code:{coupon_id}:{previous}"},
        )
    return CatalogRef(
        product_id=coupon_id,
        price_id=code.id,
        created=True,
        archived_price_id=current.id if current else None,
    )

"""`catalog sync`: create the catalog's products (and plans) at each processor, and record them.

Each adapter creates what it can: plans only where the service has subscriptions (the
adapter's subscription side), nothing where the processor needs no catalog (PayPal and
Square sell one-time products by amount). A metered plan is refused, before any call, at
a processor that cannot bill usage (its adapter's `metered` is false).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..ids import utcnow
from ..models import CatalogCoupon, CatalogPrice
from ..processors.base import CatalogItem, CatalogRef, Coupon, Processor
from .errors import Conflict, Unprocessable


@dataclass(frozen=True)
class Synced:
    processor: str
    key: str
    price_id: str
    outcome: str  # "created", "up to date", "replaced <old price>", "refused: <why>"

    @property
    def refused(self) -> bool:
        return self.outcome.startswith("refused")


def outcome(ref: CatalogRef) -> str:
    if not ref.created:
        return "up to date"
    return f"replaced {ref.archived_price_id}" if ref.archived_price_id else "created"


def sync_catalog(
    sessions: sessionmaker[Session],
    processors: Mapping[str, Processor],
    items: Iterable[CatalogItem],
    coupons: Iterable[Coupon] = (),
) -> list[Synced]:
    results: list[Synced] = []
    items, coupons = list(items), list(coupons)
    for name, adapter in sorted(processors.items()):
        for coupon in coupons:
            if coupon.redeem_by is not None and coupon.redeem_by < utcnow():
                results.append(Synced(name, f"coupon {coupon.key}", "-", "expired: not offered"))
                continue
            made = adapter.sync_coupon(coupon)
            record_coupon(sessions, name, coupon, made)
            results.append(Synced(name, f"coupon {coupon.key}", made.price_id, outcome(made)))
        for item in items:
            # Only a subscription side has `metered` (a service without plans has none).
            if item.meter is not None and not getattr(adapter, "metered", False):
                why = f"refused: {name} cannot bill metered usage, so the plan is not sold there"
                results.append(Synced(name, item.key, "-", why))
                continue
            ref = adapter.sync_product(item)
            if ref is None:
                continue
            record(sessions, name, item, ref.product_id, ref.price_id)
            results.append(Synced(name, item.key, ref.price_id, outcome(ref)))
    return results


def once_more_if_raced(write: Callable[[], None]) -> None:
    """Run `write`; if another process inserted the same row at the same moment (two
    `serve` processes record the offline prices as they start), run it again: it then
    finds the row."""
    try:
        write()
    except IntegrityError:
        write()


def record(
    sessions: sessionmaker[Session],
    processor: str,
    item: CatalogItem,
    product_id: str,
    price_id: str,
) -> None:
    """The price is the active one for this key; earlier ones stay, inactive (history)."""
    once_more_if_raced(lambda: _record(sessions, processor, item, product_id, price_id))


def _record(
    sessions: sessionmaker[Session],
    processor: str,
    item: CatalogItem,
    product_id: str,
    price_id: str,
) -> None:
    kind = item.kind
    with sessions.begin() as session:
        session.execute(
            update(CatalogPrice)
            .where(
                CatalogPrice.processor == processor,
                CatalogPrice.kind == kind,
                CatalogPrice.key == item.key,
                CatalogPrice.processor_price_id != price_id,
            )
            .values(active=False)
        )
        row = session.scalars(
            select(CatalogPrice).where(
                CatalogPrice.processor == processor, CatalogPrice.processor_price_id == price_id
            )
        ).one_or_none()
        if row is None:
            session.add(
                CatalogPrice(
                    processor=processor,
                    kind=kind,
                    key=item.key,
                    processor_product_id=product_id,
                    processor_price_id=price_id,
                    amount=item.amount,
                    currency=item.currency,
                    interval=item.interval,
                    interval_count=item.interval_count if item.interval else None,
                    meter=item.meter,
                )
            )
        else:
            row.active = True


def active_price(
    session: Session,
    processor: str,
    key: str,
    amount: int,
    currency: str,
    interval: str | None = None,
    interval_count: int = 1,
    meter: str | None = None,
) -> str | None:
    """The synced price for a catalog key, if its terms still match (a stale one is not used)."""
    query = select(CatalogPrice.processor_price_id).where(
        CatalogPrice.processor == processor,
        CatalogPrice.key == key,
        CatalogPrice.active.is_(True),
        CatalogPrice.amount == amount,
        CatalogPrice.currency == currency,
    )
    if interval is not None:
        return session.scalars(
            query.where(
                CatalogPrice.kind == "plan",
                CatalogPrice.interval == interval,
                CatalogPrice.interval_count == interval_count,
                CatalogPrice.meter.is_(None) if meter is None else CatalogPrice.meter == meter,
            )
        ).first()
    return session.scalars(query.where(CatalogPrice.kind == "product")).first()


def record_coupon(
    sessions: sessionmaker[Session], processor: str, coupon: Coupon, ref: CatalogRef
) -> None:
    """The promotion code is the active one for this coupon; earlier ones stay, inactive."""
    once_more_if_raced(lambda: _record_coupon(sessions, processor, coupon, ref))


def _record_coupon(
    sessions: sessionmaker[Session], processor: str, coupon: Coupon, ref: CatalogRef
) -> None:
    with sessions.begin() as session:
        session.execute(
            update(CatalogCoupon)
            .where(
                CatalogCoupon.processor == processor,
                CatalogCoupon.key == coupon.key,
                CatalogCoupon.processor_code_id != ref.price_id,
            )
            .values(active=False)
        )
        row = session.scalars(
            select(CatalogCoupon).where(
                CatalogCoupon.processor == processor,
                CatalogCoupon.processor_code_id == ref.price_id,
            )
        ).one_or_none()
        if row is None:
            session.add(
                CatalogCoupon(
                    processor=processor,
                    key=coupon.key,
                    code=coupon.code,
                    terms=coupon.terms,
                    processor_coupon_id=ref.product_id,
                    processor_code_id=ref.price_id,
                )
            )
        else:
            row.active = True


def active_code(session: Session, processor: str, coupon: Coupon) -> str | None:
    """The synced promotion code of a coupon, if its terms still match."""
    return session.scalars(
        select(CatalogCoupon.processor_code_id).where(
            CatalogCoupon.processor == processor,
            CatalogCoupon.key == coupon.key,
            CatalogCoupon.code == coupon.code,
            CatalogCoupon.terms == coupon.terms,
            CatalogCoupon.active.is_(True),
        )
    ).first()


def promotion(
    session: Session,
    coupons: Mapping[str, Coupon],
    processor: str,
    code: str | None,
    amount: int,
    currency: str,
    *,
    whole_amount: bool = False,
) -> tuple[str, Coupon] | None:
    """The processor's promotion code for `code`, refused (before any call) where it cannot
    apply: unknown, expired, in another currency, taking off the whole amount of a payment
    (`whole_amount` false), or not synced."""
    if code is None:
        return None
    coupon = coupons.get(code.upper())
    if coupon is None:
        raise Unprocessable(f"no promotion code {code!r}")
    if coupon.redeem_by is not None and coupon.redeem_by < utcnow():
        raise Unprocessable(f"the promotion code {coupon.code} has expired")
    if coupon.amount_off is not None and coupon.currency != currency:
        raise Unprocessable(f"the promotion code {coupon.code} is for {coupon.currency}")
    if coupon.discount_on(amount) >= amount and not whole_amount:
        raise Unprocessable(f"the promotion code {coupon.code} takes off the whole amount")
    found = active_code(session, processor, coupon)
    if found is None:
        raise Conflict(
            f"the promotion code {coupon.code} is not at {processor} yet: run `catalog sync`"
        )
    return found, coupon

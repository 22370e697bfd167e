"""`catalog sync`: create the catalog's products (and plans) at each processor, and record them.

Each adapter creates what it can: plans only where the service has subscriptions (the
adapter's subscription side), nothing where the processor needs no catalog (PayPal and
Square sell one-time products by amount). A metered plan is refused, before any call, at
a processor that cannot bill usage (its adapter's `metered` is false).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..models import CatalogPrice
from ..processors.base import CatalogItem, Processor


@dataclass(frozen=True)
class Synced:
    processor: str
    key: str
    price_id: str
    outcome: str  # "created", "up to date", "replaced <old price>", "refused: <why>"

    @property
    def refused(self) -> bool:
        return self.outcome.startswith("refused")


def sync_catalog(
    sessions: sessionmaker[Session],
    processors: Mapping[str, Processor],
    items: Iterable[CatalogItem],
) -> list[Synced]:
    results: list[Synced] = []
    items = list(items)
    for name, adapter in sorted(processors.items()):
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
            outcome = "up to date"
            if ref.created:
                outcome = (
                    f"replaced {ref.archived_price_id}" if ref.archived_price_id else "created"
                )
            results.append(Synced(name, item.key, ref.price_id, outcome))
    return results


def record(
    sessions: sessionmaker[Session],
    processor: str,
    item: CatalogItem,
    product_id: str,
    price_id: str,
) -> None:
    """The price is the active one for this key; earlier ones stay, inactive (history)."""
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

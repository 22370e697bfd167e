"""`catalog sync`: create the catalog's products and prices at each processor, and record them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..catalog import Product
from ..models import CatalogPrice
from ..processors.base import CatalogItem, Processor


@dataclass(frozen=True)
class Synced:
    processor: str
    key: str
    price_id: str
    outcome: str  # "created", "up to date", "replaced <old price>"


def sync_catalog(
    sessions: sessionmaker[Session],
    processors: Mapping[str, Processor],
    products: Iterable[Product],
) -> list[Synced]:
    results: list[Synced] = []
    for name, adapter in sorted(processors.items()):
        for product in products:
            ref = adapter.sync_product(
                CatalogItem(
                    key=product.key,
                    name=product.name,
                    description=product.description,
                    amount=product.amount,
                    currency=product.currency,
                )
            )
            if ref is None:
                continue
            record(sessions, name, product, ref.product_id, ref.price_id)
            outcome = "up to date"
            if ref.created:
                outcome = (
                    f"replaced {ref.archived_price_id}" if ref.archived_price_id else "created"
                )
            results.append(Synced(name, product.key, ref.price_id, outcome))
    return results


def record(
    sessions: sessionmaker[Session],
    processor: str,
    product: Product,
    product_id: str,
    price_id: str,
) -> None:
    """The price is the active one for this key; earlier ones stay, inactive (history)."""
    with sessions.begin() as session:
        session.execute(
            update(CatalogPrice)
            .where(
                CatalogPrice.processor == processor,
                CatalogPrice.kind == "product",
                CatalogPrice.key == product.key,
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
                    kind="product",
                    key=product.key,
                    processor_product_id=product_id,
                    processor_price_id=price_id,
                    amount=product.amount,
                    currency=product.currency,
                )
            )
        else:
            row.active = True


def active_price(
    session: Session, processor: str, key: str, amount: int, currency: str
) -> str | None:
    """The synced price for a catalog product, if its amount and currency still match."""
    return session.scalars(
        select(CatalogPrice.processor_price_id).where(
            CatalogPrice.processor == processor,
            CatalogPrice.kind == "product",
            CatalogPrice.key == key,
            CatalogPrice.active.is_(True),
            CatalogPrice.amount == amount,
            CatalogPrice.currency == currency,
        )
    ).first()

"""catalog.yml: what this service sells (products, and plans when subscriptions are on)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: catalog.yml sits at the project root, beside `src/`.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "catalog.yml"


@dataclass(frozen=True)
class Product:
    key: str
    name: str
    amount: int
    currency: str
    description: str


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


def load_products(path: Path = DEFAULT_PATH) -> dict[str, Product]:
    """The catalog's products by key; no file means no products."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    products = [_product(entry) for entry in data.get("products") or []]
    return {p.key: p for p in products}

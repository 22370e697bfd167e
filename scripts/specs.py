"""Copy into the template what the generated tests need of the processors' published specs.

    uv run python scripts/specs.py ../shared/specs

The source files are listed in `../shared/specs/README.md` (where they come from, which
version, which licence). What is written, per processor, to `template/tests/<processor>/spec/`:

- PayPal: the OpenAPI files the adapter's APIs are in, whole, without prose (descriptions,
  examples, titles and `x-` extensions): what a schema allows is all kept.
- Square: `api.json` cut down to the operations the adapter calls and the webhook event
  objects it reads, with every schema they reference; also without prose.
- Stripe: `fixtures3.json` (Stripe's example object of each resource), the resources the fake
  Stripe serves or sends.

Each folder gets the licence of its source and a README naming source and licence. Run it
again after updating the specs; the generated tests then check the fakes against them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "template" / "tests"
PROSE = {"description", "example", "examples", "summary", "title", "externalDocs"}
#: Maps whose keys are names (of properties, paths, schemas...), not schema keywords.
NAME_MAPS = {
    "properties",
    "paths",
    "schemas",
    "responses",
    "parameters",
    "requestBodies",
    "headers",
    "securitySchemes",
    "content",
    "patternProperties",
    "definitions",
}

PAYPAL = [
    "pp_checkout_orders_v2.json",
    "pp_payments_payment_v2.json",
    "pp_payments_payment_v1.json",
    "pp_billing_subscriptions_v1.json",
    "pp_catalogs_products_v1.json",
    "pp_customer_disputes_v1.json",
    "pp_notifications_webhooks_v1.json",
    "pp_vault_payment_tokens_v3.json",
]
#: (method, path) of every Square operation the adapter calls.
SQUARE_OPERATIONS = [
    ("post", "/v2/online-checkout/payment-links"),
    ("get", "/v2/orders/{order_id}"),
    ("get", "/v2/payments/{payment_id}"),
    ("post", "/v2/refunds"),
    ("get", "/v2/refunds/{refund_id}"),
    ("post", "/v2/customers"),
    ("post", "/v2/catalog/search"),
    ("post", "/v2/catalog/object"),
    ("post", "/v2/events"),
    ("post", "/v2/subscriptions"),
    ("get", "/v2/subscriptions/{subscription_id}"),
    ("post", "/v2/subscriptions/{subscription_id}/cancel"),
    ("post", "/v2/subscriptions/{subscription_id}/swap-plan"),
    ("delete", "/v2/subscriptions/{subscription_id}/actions/{action_id}"),
    ("post", "/v2/subscriptions/{subscription_id}/pause"),
    ("post", "/v2/subscriptions/{subscription_id}/resume"),
    ("post", "/v2/payments"),
    ("post", "/v2/payments/{payment_id}/complete"),
    ("post", "/v2/payments/{payment_id}/cancel"),
    ("post", "/v2/cards"),
    ("post", "/v2/cards/{card_id}/disable"),
]
#: The webhook event objects Square's adapter reads (`processors/square/events.py`).
SQUARE_EVENTS = [
    "PaymentCreatedEvent",
    "PaymentUpdatedEvent",
    "RefundCreatedEvent",
    "RefundUpdatedEvent",
    "DisputeCreatedEvent",
    "DisputeStateUpdatedEvent",
    "SubscriptionCreatedEvent",
    "SubscriptionUpdatedEvent",
    "InvoicePaymentMadeEvent",
    "InvoiceScheduledChargeFailedEvent",
    "CardCreatedEvent",
    "CardUpdatedEvent",
    "CardAutomaticallyUpdatedEvent",
    "CardDisabledEvent",
    "CardForgottenEvent",
]
STRIPE_RESOURCES = [
    "billing.meter",
    "billing.meter_event",
    "billing_portal.session",
    "charge",
    "checkout.session",
    "coupon",
    "customer",
    "dispute",
    "event",
    "invoice",
    "payment_intent",
    "payment_method",
    "plan",
    "price",
    "product",
    "promotion_code",
    "refund",
    "setup_intent",
    "subscription",
    "subscription_item",
]


def without_prose(node: Any, names: bool = False) -> Any:
    """`node` without descriptions, examples and `x-` extensions (keys of name maps kept)."""
    if isinstance(node, dict):
        return {
            key: without_prose(value, key in NAME_MAPS and not names)
            for key, value in node.items()
            if names or (key not in PROSE and not key.startswith("x-"))
        }
    if isinstance(node, list):
        return [without_prose(value) for value in node]
    return node


def refs(node: Any) -> set[str]:
    """The component schema names `node` references."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node)) if node else set()
    return set()


def square(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    paths: dict[str, Any] = {}
    for method, path in SQUARE_OPERATIONS:
        operation = spec["paths"][path][method]
        paths.setdefault(path, {})[method] = operation
    wanted = refs(paths) | set(SQUARE_EVENTS)
    kept: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in kept:
            continue
        if name not in schemas:  # Square's file names a few schemas it does not define
            kept[name] = {}
            continue
        kept[name] = schemas[name]
        wanted |= refs(schemas[name]) - set(kept)
    return {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "paths": paths,
        "components": {"schemas": dict(sorted(kept.items()))},
    }


def write(folder: Path, name: str, document: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    for tag in ("{{", "{%", "{#"):  # copier would read them as template syntax
        assert tag not in text, (name, tag)
    (folder / name).write_text(text, encoding="utf-8")


def main(source: Path) -> None:
    paypal = TESTS / "{% if 'paypal' in processors %}paypal{% endif %}" / "spec"
    for name in PAYPAL:
        write(paypal, name, without_prose(json.loads((source / name).read_text())))
    shutil.copy(source / "LICENSE.paypal", paypal / "LICENSE")
    square_dir = TESTS / "{% if 'square' in processors %}square{% endif %}" / "spec"
    spec = json.loads((source / "square_api.json").read_text())
    write(square_dir, "api.json", without_prose(square(spec)))
    shutil.copy(source / "LICENSE.square", square_dir / "LICENSE")
    stripe = TESTS / "{% if 'stripe' in processors %}stripe{% endif %}" / "spec"
    fixtures = json.loads((source / "stripe_fixtures3.json").read_text())["resources"]
    write(stripe, "fixtures3.json", {"resources": {k: fixtures[k] for k in STRIPE_RESOURCES}})
    shutil.copy(source / "LICENSE.stripe", stripe / "LICENSE")
    for folder in (paypal, square_dir, stripe):
        (folder / "LICENSE").chmod(0o644)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

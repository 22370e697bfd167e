"""How long each kind of text the service takes in may be: the API's models and the
columns that store the text (`models.py`) both read these, so what the API accepts fits."""

from __future__ import annotations

import re

#: Our ids: a prefix, "_" and 24 base32 characters (`ids.new_id`; `derived_id`).
ID = 40
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
#: A processor's name ("stripe").
PROCESSOR = 20
EMAIL = 320
#: The merchant's own id of a customer (their user id): the customer's identity.
EXTERNAL_ID = 255
#: A customer's name.
NAME = 200
DESCRIPTION = 500
#: The merchant's reference of a payment; a processor's ids.
REFERENCE = 255
#: A catalog.yml product or plan key.
CATALOG_KEY = 100
#: A refund's reason: Stripe keeps up to 500 characters of it (in the refund's metadata).
REFUND_REASON = 500
IDEMPOTENCY_KEY = 255
#: A promotion code as buyers type it: letters, digits and dashes (Stripe's characters).
PROMOTION_CODE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
#: A webhook event's id and type, as the processor sends them.
EVENT_ID = 255
EVENT_TYPE = 100

#: Control characters (NUL and the like): refused in every text the service takes in
#: (PostgreSQL refuses NUL in text outright).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: A processor's page (a receipt, an invoice and its PDF), kept only if it is https.
URL = 2048


def https_url(value: object) -> str | None:
    """`value` if it is an https URL a page may link to (no control characters or spaces,
    not too long), else None: a `javascript:` or `http:` link from a processor's data
    is never stored or shown."""
    if not isinstance(value, str) or len(value) > URL or not value.startswith("https://"):
        return None
    if CONTROL_CHARACTERS.search(value) or " " in value or len(value) <= len("https://"):
        return None
    return value

"""Signed, expiring links to a customer's account page (and from it, the billing portal).

The account page shows a customer's subscriptions and opens the processor's billing
portal, so only a link this service signed opens it: `/account?customer_id=...&expires=
...&signature=...`, an HMAC-SHA256 of the customer id and the expiry time. The merchant's
app asks for one (`POST /api/customers/{id}/account-link`, valid `LINK_TTL`) when its
signed-in user wants to manage billing; a checkout or the portal sends the buyer back with
one valid `RETURN_TTL`. The key derives from `API_TOKEN` (so every server of a service
signs alike, and rotating the token revokes every link); without a token (development)
it is random per process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from .config import Settings

#: How long a link made for the merchant's signed-in user opens the account page.
LINK_TTL = timedelta(minutes=15)
#: How long a checkout's or the portal's way back does: the buyer may take a while.
RETURN_TTL = timedelta(hours=24)
_PROCESS_KEY = secrets.token_bytes(32)


def signing_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose, derived from `API_TOKEN` (random per process without one)."""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not token:
        return _PROCESS_KEY
    return hmac.new(token.encode(), f"copier-payments {purpose}".encode(), hashlib.sha256).digest()


def _sign(key: bytes, *parts: str) -> str:
    digest = hmac.new(key, ".".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _unexpired(expires: str) -> bool:
    return (
        expires.isascii()
        and expires.isdigit()
        and len(expires) <= 12
        and (int(expires) >= time.time())
    )


@dataclass(frozen=True)
class SetupReturns:
    """Where a processor sends the customer back after approving a setup this service must
    complete (PayPal's vault): `/payment-methods/setup/complete?...`, signed, so that the
    service sends the customer on only to the merchant's own `next` URL, until it expires."""

    base_url: str
    key: bytes

    @classmethod
    def of(cls, settings: Settings) -> SetupReturns:
        return cls(settings.public_base_url.rstrip("/"), signing_key(settings, "setup returns"))

    def make(self, processor: str, next_url: str) -> str:
        expires = str(int(time.time() + RETURN_TTL.total_seconds()))
        query = urlencode(
            {
                "processor": processor,
                "next": next_url,
                "expires": expires,
                "signature": _sign(self.key, processor, next_url, expires),
            }
        )
        return f"{self.base_url}/payment-methods/setup/complete?{query}"

    def opens(self, processor: str, next_url: str, expires: str, signature: str) -> bool:
        expected = _sign(self.key, processor, next_url, expires)
        return _unexpired(expires) and hmac.compare_digest(expected, signature)


@dataclass(frozen=True)
class AccountLinks:
    base_url: str
    key: bytes

    @classmethod
    def of(cls, settings: Settings) -> AccountLinks:
        return cls(settings.public_base_url.rstrip("/"), signing_key(settings, "account links"))

    def signature(self, customer_id: str, expires: int) -> str:
        return _sign(self.key, customer_id, str(expires))

    def make(self, customer_id: str, ttl: timedelta) -> tuple[str, datetime]:
        """(the link, when it expires)."""
        expires = int(time.time() + ttl.total_seconds())
        query = urlencode(
            {
                "customer_id": customer_id,
                "expires": expires,
                "signature": self.signature(customer_id, expires),
            }
        )
        return f"{self.base_url}/account?{query}", datetime.fromtimestamp(expires, UTC)

    def opens(self, customer_id: str, expires: str, signature: str) -> bool:
        """Whether a link's fields were signed here and have not expired."""
        if not _unexpired(expires):
            return False
        return hmac.compare_digest(self.signature(customer_id, int(expires)), signature)

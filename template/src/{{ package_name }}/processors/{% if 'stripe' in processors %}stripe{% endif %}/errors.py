"""Stripe's SDK errors, translated into ours; a key is never echoed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import stripe

from ..base import DeclineCode, ErrorKind, ProcessorError

#: Stripe's decline codes, as the service names them (`base.DeclineCode`); any other is
#: "declined": the reasons a bank gives for fraud (stolen, lost, pickup) are never passed
#: on to whoever could try another card.
DECLINES: dict[str, DeclineCode] = {
    "insufficient_funds": "insufficient_funds",
    "card_velocity_exceeded": "insufficient_funds",
    "withdrawal_count_limit_exceeded": "insufficient_funds",
    "expired_card": "expired_card",
    "incorrect_cvc": "incorrect_card_data",
    "incorrect_number": "incorrect_card_data",
    "incorrect_zip": "incorrect_card_data",
    "invalid_expiry_month": "incorrect_card_data",
    "invalid_expiry_year": "incorrect_card_data",
    "authentication_required": "authentication_required",
    "card_not_supported": "payment_method_unusable",
    "currency_not_supported": "payment_method_unusable",
    "processing_error": "try_again_later",
    "try_again_later": "try_again_later",
    "issuer_not_available": "try_again_later",
    "reenter_transaction": "try_again_later",
}


def neutral_decline(code: str | None) -> DeclineCode:
    return DECLINES.get(code or "", "declined")


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Translate the SDK's errors into ours; never echo a key."""
    try:
        yield
    except stripe.CardError as exc:
        decline = getattr(exc.error, "decline_code", None) if exc.error else None
        raise ProcessorError(
            "declined",
            exc.user_message or "the card was declined",
            decline_code=neutral_decline(decline or exc.code),
        ) from None
    except stripe.RateLimitError:
        raise ProcessorError(
            "rate_limited", "Stripe is rate limiting requests; retry later", retry_after=2
        ) from None
    except stripe.InvalidRequestError as exc:
        param = f" (parameter {exc.param})" if exc.param else ""
        raise ProcessorError(
            "invalid_request", f"Stripe refused the request{param}: {exc.user_message}"
        ) from None
    except (stripe.AuthenticationError, stripe.PermissionError):
        raise ProcessorError(
            "authentication", "Stripe refused our credentials: check STRIPE_SECRET_KEY"
        ) from None
    except stripe.APIConnectionError:
        raise ProcessorError("unavailable", "Stripe could not be reached; retry later") from None
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        kind: ErrorKind = "unavailable" if status >= 500 else "error"
        raise ProcessorError(kind, f"Stripe answered {status or 'an error'}") from None

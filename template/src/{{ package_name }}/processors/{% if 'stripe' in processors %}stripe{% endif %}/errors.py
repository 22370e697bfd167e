"""Stripe's SDK errors, translated into ours; a key is never echoed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import stripe

from ..base import ErrorKind, ProcessorError


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
            decline_code=decline or exc.code,
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

"""Square's SDK answers and errors, translated into ours; the token is never echoed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from square.core.api_error import ApiError

from ..base import DeclineCode, ProcessorError

#: Square's decline codes (PAYMENT_METHOD_ERROR), as the service names them
#: (`base.DeclineCode`); any other is "declined".
DECLINES: dict[str, DeclineCode] = {
    "INSUFFICIENT_FUNDS": "insufficient_funds",
    "TRANSACTION_LIMIT": "insufficient_funds",
    "CARD_EXPIRED": "expired_card",
    "INVALID_EXPIRATION": "incorrect_card_data",
    "CVV_FAILURE": "incorrect_card_data",
    "ADDRESS_VERIFICATION_FAILURE": "incorrect_card_data",
    "INVALID_POSTAL_CODE": "incorrect_card_data",
    "CARD_NOT_SUPPORTED": "payment_method_unusable",
    "CARD_DECLINED_VERIFICATION_REQUIRED": "authentication_required",
    "TEMPORARY_ERROR": "try_again_later",
}


def as_json(model: Any) -> dict[str, Any]:
    """An SDK answer as Square's JSON."""
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


@contextmanager
def square_errors() -> Iterator[None]:
    """Translate the SDK's errors into ours; the message names Square's codes, never the token."""
    try:
        yield
    except ApiError as exc:
        status = exc.status_code or 0
        codes = sorted({str(e.code) for e in exc.errors if e.code})
        named = f" ({', '.join(codes)})" if codes else ""
        declines = [str(e.code) for e in exc.errors if e.category == "PAYMENT_METHOD_ERROR"]
        if declines:
            raise ProcessorError(
                "declined",
                f"Square declined the payment{named}",
                decline_code=DECLINES.get(declines[0], "declined"),
            ) from None
        if status in (401, 403):
            raise ProcessorError(
                "authentication", "Square refused our credentials: check SQUARE_ACCESS_TOKEN"
            ) from None
        if status == 429:
            raise ProcessorError(
                "rate_limited", "Square is rate limiting requests; retry later", retry_after=2
            ) from None
        if status >= 500:
            raise ProcessorError("unavailable", f"Square answered {status}; retry later") from None
        raise ProcessorError("invalid_request", f"Square refused the request{named}") from None
    except httpx.HTTPError:
        raise ProcessorError("unavailable", "Square could not be reached; retry later") from None

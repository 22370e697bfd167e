"""Square, through the official `squareup` SDK: everything of Square's is in this folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...config import Settings
from ..base import Processor, ProcessorKind
from .settings import SquareSettings

if TYPE_CHECKING:
    from .adapter import SquareProcessor


def build(settings: Settings, load: Callable[[], type[SquareProcessor]]) -> Processor | None:
    own = SquareSettings.of(settings)
    if "square" not in settings.active_processors or own.access_token is None:
        return None
    key = own.webhook_signature_key
    return load()(
        own.access_token.get_secret_value(),
        key.get_secret_value() if key else "",
        own.location_id or "",
        # The URL Square signs with each delivery: from the configuration, never the request.
        f"{settings.public_base_url.rstrip('/')}/webhooks/square",
        environment=own.environment,
        api_base=own.api_base,
        budget_s=settings.processor_timeout_seconds,
    )


KIND = ProcessorKind(name="square", build=build, package=__name__, settings=SquareSettings)

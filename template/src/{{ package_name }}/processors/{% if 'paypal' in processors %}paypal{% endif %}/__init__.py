"""PayPal, through the official `paypal-server-sdk`: everything of PayPal's is in this folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...config import Settings
from ..base import Processor, ProcessorKind
from .settings import PayPalSettings

if TYPE_CHECKING:
    from .adapter import PayPalProcessor


def build(settings: Settings, load: Callable[[], type[PayPalProcessor]]) -> Processor | None:
    own = PayPalSettings.of(settings)
    if "paypal" not in settings.active_processors or own.client_secret is None:
        return None
    return load()(
        own.client_id or "",
        own.client_secret.get_secret_value(),
        own.webhook_id or "",
        environment=own.environment,
        api_base=own.api_base,
        budget_s=settings.processor_timeout_seconds,
    )


KIND = ProcessorKind(name="paypal", build=build, package=__name__, settings=PayPalSettings)

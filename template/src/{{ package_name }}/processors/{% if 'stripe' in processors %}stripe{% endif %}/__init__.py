"""Stripe, through the official `stripe` SDK: everything of Stripe's is in this folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...config import Settings
from ..base import Processor, ProcessorKind
from .settings import StripeSettings

if TYPE_CHECKING:
    from .adapter import StripeProcessor


def build(settings: Settings, load: Callable[[], type[StripeProcessor]]) -> Processor | None:
    own = StripeSettings.of(settings)
    if "stripe" not in settings.active_processors or own.secret_key is None:
        return None
    return load()(
        own.secret_key.get_secret_value(),
        own.webhook_secrets,
        api_base=own.api_base,
        budget_s=settings.processor_timeout_seconds,
    )


KIND = ProcessorKind(name="stripe", build=build, package=__name__, settings=StripeSettings)

"""The offline fake processor: development and tests only, refused in production."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...config import Settings
from ..base import Processor, ProcessorKind

if TYPE_CHECKING:
    from .adapter import FakeProcessor


def build(settings: Settings, load: Callable[[], type[FakeProcessor]]) -> Processor | None:
    return None if settings.is_production else load()(settings.public_base_url)


KIND = ProcessorKind(name="fake", build=build, package=__name__)

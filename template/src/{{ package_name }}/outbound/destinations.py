"""Where the events go, from the configuration: each MERCHANT_WEBHOOK_URL, and the
merchant's hooks module (MERCHANT_HOOKS, `hooks.py` at the project root) when it exists."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ..config import ConfigError, Settings
from .deliver import HOOKS, Destination, Endpoint, Hooks

#: The name the hooks module is imported under.
MODULE = "merchant_hooks"


def load_hooks(path: str | Path) -> ModuleType | None:
    """The hooks module at `path` (None: there is none); one clear error if it cannot load."""
    file = Path(path)
    if not file.is_file():
        return None
    spec = importlib.util.spec_from_file_location(MODULE, file)
    if spec is None or spec.loader is None:
        raise ConfigError("MERCHANT_HOOKS", f"{file} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the merchant's code: any error, one line
        raise ConfigError(
            "MERCHANT_HOOKS", f"{file} cannot be imported ({type(exc).__name__}: {exc})"
        ) from None
    sys.modules[MODULE] = module
    return module


def destinations(settings: Settings) -> dict[str, Destination]:
    """The configured destinations, by the name their deliveries are recorded under."""
    found: dict[str, Destination] = {}
    secret = settings.merchant_webhook_secret
    if secret is not None:
        for url in settings.merchant_endpoints:
            found[url] = Endpoint(
                url, secret.get_secret_value(), settings.merchant_webhook_timeout_seconds
            )
    hooks = load_hooks(settings.merchant_hooks)
    if hooks is not None:
        found[HOOKS] = Hooks(hooks)
    return found

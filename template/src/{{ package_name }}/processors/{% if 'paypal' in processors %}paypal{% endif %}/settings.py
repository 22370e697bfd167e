"""PayPal's variables (`PAYPAL_...`), and what makes them wrong."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from ...config import ConfigError, Environment, ProcessorSettings, api_base_problem


class PayPalSettings(ProcessorSettings):
    model_config = SettingsConfigDict(env_prefix="PAYPAL_")
    required: ClassVar[tuple[str, ...]] = (
        "PAYPAL_CLIENT_ID",
        "PAYPAL_CLIENT_SECRET",
        "PAYPAL_WEBHOOK_ID",
    )

    client_id: str | None = None
    client_secret: SecretStr | None = None
    webhook_id: str | None = None
    environment: Literal["sandbox", "live"] = "sandbox"
    api_base: str | None = None

    def problems(self, environment: Environment) -> list[ConfigError]:
        production = environment == "production"
        found = api_base_problem("PAYPAL_API_BASE", self.api_base, production)
        if (self.environment == "live") != production:
            found.append(
                ConfigError(
                    "PAYPAL_ENVIRONMENT",
                    f"'{self.environment}' does not match ENVIRONMENT={environment}; "
                    "use live only in production and sandbox elsewhere",
                )
            )
        return found

"""Square's variables (`SQUARE_...`), and what makes them wrong."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from ...config import ConfigError, Environment, ProcessorSettings, api_base_problem


class SquareSettings(ProcessorSettings):
    model_config = SettingsConfigDict(env_prefix="SQUARE_")
    required: ClassVar[tuple[str, ...]] = (
        "SQUARE_ACCESS_TOKEN",
        "SQUARE_WEBHOOK_SIGNATURE_KEY",
        "SQUARE_LOCATION_ID",
    )

    access_token: SecretStr | None = None
    webhook_signature_key: SecretStr | None = None
    location_id: str | None = None
    environment: Literal["sandbox", "production"] = "sandbox"
    api_base: str | None = None

    def problems(self, environment: Environment) -> list[ConfigError]:
        production = environment == "production"
        found = api_base_problem("SQUARE_API_BASE", self.api_base, production)
        if (self.environment == "production") != production:
            found.append(
                ConfigError(
                    "SQUARE_ENVIRONMENT",
                    f"'{self.environment}' does not match ENVIRONMENT={environment}; "
                    "use production only in production and sandbox elsewhere",
                )
            )
        return found

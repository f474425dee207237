"""One settings object for the action server.

Values come from the environment (``.env`` through honcho, or scripts/stack.py in
tests). Nothing is read at import time: ``get_settings()`` builds the object on
first use, so tests can set the environment first and clear the cache after.
``ENV=production`` refuses the development exchange secret.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import BaseSettings, Field, root_validator, validator

# The exchange owns its development client pair (and refuses it in production).
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET


class ActionSettings(BaseSettings):
    # development | test | production; production refuses the development secret.
    environment: Literal["development", "test", "production"] = Field("development", env="ENV")
    exchange_url: str = Field("http://127.0.0.1:8100", env="EXCHANGE_URL")
    exchange_client_id: str = Field(DEV_CLIENT_ID, env="EXCHANGE_CLIENT_ID")
    exchange_client_secret: str = Field(DEV_CLIENT_SECRET, env="EXCHANGE_CLIENT_SECRET")
    # Older callers must not wait: after this many seconds we apologise and offer a retry.
    exchange_timeout: float = Field(3.0, gt=0, le=30, env="EXCHANGE_TIMEOUT")
    # Retries inside one call (the client resends only what is safe to resend).
    exchange_retries: int = Field(0, ge=0, le=5, env="EXCHANGE_RETRIES")
    # Where handover summaries go. Empty: the exchange's own queue (POST /v1/handovers,
    # signed). A URL: that endpoint gets the same JSON body (e.g. a gateway queue).
    handover_url: str = Field("", env="HANDOVER_URL")
    handover_timeout: float = Field(3.0, gt=0, le=30, env="HANDOVER_TIMEOUT")
    # The number people can call instead; read out when something cannot be done here.
    service_hotline: str = Field("12345", env="SERVICE_HOTLINE")
    # The action server listens on loopback unless told otherwise (never 0.0.0.0 by default).
    actions_host: str = Field("127.0.0.1", env="ACTIONS_HOST")
    actions_port: int = Field(5055, env="ACTIONS_PORT")
    # How many wrong identity checks before we stop asking (per conversation).
    identity_attempts: int = Field(3, ge=1, le=10, env="IDENTITY_ATTEMPTS")
    # How many months of pension payments are read out.
    payment_months: int = Field(3, ge=1, le=12, env="PAYMENT_MONTHS")
    # The one switch the team on call turns for every process (Rasa reads it too).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", env="LOG_LEVEL")

    class Config:
        env_file = None

    @validator("environment", pre=True)
    def _lowercase(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @validator("log_level", pre=True)
    def _uppercase(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @validator("exchange_url", "handover_url")
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @root_validator(skip_on_failure=True)
    def _no_dev_secret_in_production(cls, values: dict) -> dict:
        if (
            values.get("environment") == "production"
            and values.get("exchange_client_secret") == DEV_CLIENT_SECRET
        ):
            raise ValueError(
                "ENV=production refuses the development defaults: "
                "set EXCHANGE_CLIENT_SECRET to your own value."
            )
        return values


@functools.cache
def get_settings() -> ActionSettings:
    return ActionSettings()

"""Exchange settings: one pydantic (v1) settings class, read from EXCHANGE_* variables.

The stack-wide switch ``ENV`` (development | test | production) is read too;
``EXCHANGE_ENVIRONMENT``, its older name, still works when ENV is not set.
``ENV=production`` refuses the development client secret.

Nothing here runs at import time; ``Settings()`` is built by ``create_app`` and
the CLI, so tests can pass their own instance.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, BaseSettings, Field, SecretStr, root_validator, validator

from exchange.core.codes import Purpose

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'var' / 'exchange.db'}"

# Development only: the bot's actions use this pair on a developer machine.
# Settings refuse it when ENV=production.
DEV_CLIENT_ID = "assistant"
DEV_CLIENT_SECRET = "dev-only-exchange-secret-change-me"  # noqa: S105 - documented dev default
ALL_PURPOSES = "*"


class ClientConfig(BaseModel):
    """A client of the exchange: its shared secret, name for citizens, allowed purposes."""

    secret: SecretStr
    name: str = ""
    purposes: list[str] = Field(default_factory=lambda: [ALL_PURPOSES])

    @validator("purposes", each_item=True)
    def _known_purpose(cls, value: str) -> str:
        if value != ALL_PURPOSES and value not in {p.value for p in Purpose}:
            raise ValueError(f"unknown purpose {value!r}")
        return value

    def allows(self, purpose: str) -> bool:
        return ALL_PURPOSES in self.purposes or purpose in self.purposes


def _dev_clients() -> dict[str, ClientConfig]:
    return {
        DEV_CLIENT_ID: ClientConfig(
            secret=SecretStr(DEV_CLIENT_SECRET), name="政务服务智能助手", purposes=[ALL_PURPOSES]
        )
    }


class Settings(BaseSettings):
    # ENV first; the old EXCHANGE_ENVIRONMENT only when ENV is not set.
    environment: Literal["development", "test", "production"] = Field(
        "development", env=["ENV", "EXCHANGE_ENVIRONMENT"]
    )
    # SQLite by default; e.g. postgresql://postgres@127.0.0.1:5432/test for PostgreSQL.
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL only: keep the tables in this schema (tests use one per run).
    db_schema: str | None = None
    host: str = "127.0.0.1"
    port: int = 8100
    # JSON in EXCHANGE_CLIENTS, e.g.
    # {"assistant": {"secret": "...", "name": "政务服务智能助手", "purposes": ["*"]}}
    clients: dict[str, ClientConfig] = Field(default_factory=_dev_clients)
    # How far X-Timestamp may be from the server's clock; request ids are remembered twice as long.
    signature_tolerance_seconds: int = Field(300, ge=1)
    lockout_threshold: int = Field(5, ge=1)
    lockout_window_seconds: int = Field(900, ge=1)
    lockout_seconds: int = Field(900, ge=1)
    # How long a stored Idempotency-Key result is replayed; after that the key is free.
    idempotency_ttl_seconds: int = Field(86400, ge=60)
    # LOG_LEVEL is the one switch for every process; EXCHANGE_LOG_LEVEL overrides it here.
    log_level: str = Field("INFO", env=["EXCHANGE_LOG_LEVEL", "LOG_LEVEL"])

    class Config:
        env_prefix = "EXCHANGE_"

    @validator("environment", pre=True)
    def _lowercase(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @validator("db_schema")
    def _safe_schema_name(cls, value: str | None) -> str | None:
        # The name ends up in DDL and in the connection's search_path.
        if value is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError("use lowercase letters, digits and underscores")
        return value

    @root_validator(skip_on_failure=True)
    def _no_dev_secret_in_production(cls, values: dict) -> dict:
        if values.get("environment") == "production":
            for client_id, client in values.get("clients", {}).items():
                if client.secret.get_secret_value() == DEV_CLIENT_SECRET:
                    raise ValueError(
                        f"ENV=production refuses the development defaults: set EXCHANGE_CLIENTS "
                        f"to your own clients (client {client_id!r} uses the development secret)."
                    )
        return values

    @property
    def replay_window_seconds(self) -> int:
        # A request is acceptable from ts-tolerance to ts+tolerance, so its id must be
        # remembered for twice the tolerance to catch every replay.
        return 2 * self.signature_tolerance_seconds

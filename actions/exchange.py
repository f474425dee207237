"""The one place that makes the exchange client, lazily (never at import time).

Every action gets the same ``AsyncExchangeClient`` (signing, timeouts,
idempotency, typed errors) from ``get_client()``; unit tests put in a client
built on ``httpx.MockTransport`` with ``use_client()``.
"""

from __future__ import annotations

from actions.settings import get_settings
from exchange.client import (
    AsyncExchangeClient,
    ExchangeError,
    ExchangeUnavailable,
    Locked,
    NotFound,
    Rejected,
    idempotency_key,
)

__all__ = [
    "ExchangeError",
    "ExchangeUnavailable",
    "Locked",
    "NotFound",
    "Rejected",
    "get_client",
    "idempotency_key",
    "use_client",
]

_client: AsyncExchangeClient | None = None


def get_client() -> AsyncExchangeClient:
    """The shared client, created on first use from the action settings."""
    global _client
    if _client is None:
        settings = get_settings()
        _client = AsyncExchangeClient(
            settings.exchange_url,
            settings.exchange_client_id,
            settings.exchange_client_secret,
            timeout=settings.exchange_timeout,
            # A slow exchange must not keep an older caller waiting: one try within the
            # timeout, then we apologise and offer to try again (with the same key).
            retries=settings.exchange_retries,
        )
    return _client


def use_client(client: AsyncExchangeClient | None) -> None:
    """Replace the shared client (tests); None makes the next call build a fresh one."""
    global _client
    _client = client

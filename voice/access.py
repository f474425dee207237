"""Who may use the gateway, and how often: kiosk devices, message limits, sign-in lock.

``Access.from_settings`` builds the one instance a gateway process keeps in
``app.state.access`` (in ``create_app``; nothing is built at import time).

- Kiosk robots prove who they are with a device token (voice/devices.py).
- Every message (a widget chat message, a kiosk ``start`` or ``text``) takes a
  token from its sender's bucket and from its source's bucket: the client
  address, or for an authenticated robot its device (robots in one hall often
  share one address). A WebSocket connection takes one from its address.
- Wrong agent-view passwords lock the address out for a while.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from voice.devices import DeviceRegistry
from voice.ratelimit import FailureLock, TokenBuckets, acquire
from voice.settings import VoiceSettings


@dataclass
class Access:
    devices: DeviceRegistry
    senders: TokenBuckets
    sources: TokenBuckets
    agent_sign_in: FailureLock

    @classmethod
    def from_settings(cls, settings: VoiceSettings) -> Access:
        return cls(
            devices=DeviceRegistry(
                inline=settings.kiosk_devices,
                path=settings.kiosk_devices_file,
                refuse_dev_token=settings.environment == "production",
            ),
            senders=TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst),
            sources=TokenBuckets(settings.rate_limit_ip_per_minute, settings.rate_limit_ip_burst),
            agent_sign_in=FailureLock(
                settings.agent_max_failures, settings.agent_lock_minutes * 60
            ),
        )

    def message(self, *, source: str, sender: str | None = None) -> float:
        """Take a token for one message; 0.0, or the seconds until one is allowed."""
        limits = [(self.sources, source)]
        if sender is not None:
            limits.append((self.senders, sender))
        return acquire(*limits)

    def connection(self, address: str) -> float:
        return acquire((self.sources, address_key(address)))


def client_address(connection: HTTPConnection) -> str:
    """The peer's address (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    return connection.client.host if connection.client else "unknown"


def address_key(address: str) -> str:
    return f"ip:{address}"


def device_key(device: str) -> str:
    return f"device:{device}"

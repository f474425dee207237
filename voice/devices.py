"""Kiosk robots allowed on ``/v1/kiosk``: device id -> token (or its SHA-256).

The list comes from ``VOICE_KIOSK_DEVICES_FILE`` (YAML or JSON, read again on
every ``start``, so removing a robot revokes it on its next ``start`` without a
restart) or from ``VOICE_KIOSK_DEVICES`` (JSON in the environment, read once).
Without either, development runs with one built-in device (``DEV_KIOSK_DEVICE``);
``ENV=production`` refuses that (voice/settings.py).

A file maps device ids to tokens; store the hash, not the token:

    # python -m voice.devices new robot-17   prints a token and this line
    robot-17: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

Tokens are long random strings, so a plain SHA-256 is enough (nothing to guess
a dictionary of); a slow password hash would only slow every connection down.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import yaml

from voice.protocol import DEVICE_PATTERN, MAX_TOKEN_CHARS

logger = logging.getLogger(__name__)

HASH_PREFIX = "sha256:"
# Local development only; ENV=production refuses it.
DEV_KIOSK_DEVICE = "dev-kiosk"
DEV_KIOSK_TOKEN = "dev-only-kiosk-token-change-me"  # noqa: S105 - documented dev default


class DeviceListError(ValueError):
    """The device list cannot be read or is malformed."""


class Verdict(Enum):
    ACCEPTED = "accepted"
    UNKNOWN_DEVICE = "unknown_device"  # not in the list: never added, or revoked
    WRONG_TOKEN = "wrong_token"  # noqa: S105 - a verdict, not a secret


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


DEV_KIOSK_DIGEST = digest(DEV_KIOSK_TOKEN)


def parse_devices(data: object, *, source: str = "") -> dict[str, str]:
    """Device id -> hex SHA-256 of its token, from a mapping of ids to tokens or hashes."""
    source = f"{source}: " if source else ""
    if not isinstance(data, Mapping):
        raise DeviceListError(f"{source}expected a mapping of device ids to tokens")
    devices = {}
    for device, token in data.items():
        if not isinstance(device, str) or not DEVICE_PATTERN.match(device):
            raise DeviceListError(
                f"{source}device ids are 1-64 of letters, digits, _ . - (got {str(device)[:40]!r})"
            )
        if not isinstance(token, str) or not token.strip():
            raise DeviceListError(f"{source}device {device!r} needs a token")
        token = token.strip()
        if token.startswith(HASH_PREFIX):
            hexdigest = token[len(HASH_PREFIX) :].lower()
            if not re.fullmatch(r"[0-9a-f]{64}", hexdigest):
                raise DeviceListError(
                    f"{source}device {device!r}: sha256: needs 64 hexadecimal digits"
                )
            devices[device] = hexdigest
        elif len(token) > MAX_TOKEN_CHARS:
            raise DeviceListError(
                f"{source}device {device!r}: tokens are at most {MAX_TOKEN_CHARS} characters"
            )
        else:
            devices[device] = digest(token)
    return devices


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise DeviceListError(f"cannot read {path}: {reason or error}") from None


def _parse_text(text: str, path: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DeviceListError(f"{path} is not valid YAML or JSON: {error}") from None
    return parse_devices({} if data is None else data, source=str(path))


def read_device_file(path: Path) -> dict[str, str]:
    return _parse_text(_read_text(path), path)


def uses_dev_token(devices: Mapping[str, str]) -> bool:
    return any(hmac.compare_digest(d, DEV_KIOSK_DIGEST) for d in devices.values())


@dataclass(frozen=True)
class _Snapshot:
    text: str
    devices: dict[str, str]


class DeviceRegistry:
    """Checks a device's token against the list as it is now (the file is read each time)."""

    def __init__(
        self,
        *,
        inline: Mapping[str, str] | None = None,
        path: Path | None = None,
        refuse_dev_token: bool = False,
    ) -> None:
        self.path = path
        self.refuse_dev_token = refuse_dev_token
        if path is None and inline is None:
            inline = {DEV_KIOSK_DEVICE: DEV_KIOSK_TOKEN}
        self._inline = self._usable(parse_devices(inline or {}))
        self._snapshot: _Snapshot | None = None

    def devices(self) -> dict[str, str]:
        """The current list (device id -> token hash); ``DeviceListError`` if unreadable."""
        if self.path is None:
            devices = self._inline
        else:
            # Read every time (a few hundred bytes per start); parsed only when the
            # bytes changed. Timestamps could miss a quick same-size edit.
            text = _read_text(self.path)
            if self._snapshot is None or self._snapshot.text != text:
                devices = self._usable(_parse_text(text, self.path))
                self._snapshot = _Snapshot(text, devices)
                logger.info("kiosk device list %s: %d devices", self.path, len(devices))
            devices = self._snapshot.devices
        return devices

    def _usable(self, devices: dict[str, str]) -> dict[str, str]:
        if not self.refuse_dev_token:
            return devices
        for device in [d for d, h in devices.items() if hmac.compare_digest(h, DEV_KIOSK_DIGEST)]:
            # Start-up already refused this; a later edit only loses that one robot.
            logger.error("kiosk device %s has the development token: refused", device)
            del devices[device]
        return devices

    def check(self, device: str, token: str) -> Verdict:
        """Whether ``token`` is the token of ``device`` now; ``DeviceListError`` if unreadable."""
        expected = self.devices().get(device)
        presented = digest(token)
        # Compare even for an unknown device, so the answer takes the same time.
        matches = hmac.compare_digest(presented, expected or DEV_KIOSK_DIGEST)
        if expected is None:
            return Verdict.UNKNOWN_DEVICE
        return Verdict.ACCEPTED if matches else Verdict.WRONG_TOKEN


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Tokens for kiosk robots (VOICE_KIOSK_DEVICES_FILE)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a token for a device; print it and its file line")
    new.add_argument("device")
    hashed = commands.add_parser("hash", help="the file line for an existing token")
    hashed.add_argument("device")
    hashed.add_argument("token")
    args = parser.parse_args()
    if not DEVICE_PATTERN.match(args.device):
        parser.error("device ids are 1-64 of letters, digits, _ . -")
    token = secrets.token_urlsafe(32) if args.command == "new" else args.token
    if args.command == "new":
        print(f"token for the robot (keep it secret): {token}")
    print(f"line for the device list: {args.device}: {HASH_PREFIX}{digest(token)}")


if __name__ == "__main__":
    main()

"""Asterisk AudioSocket framing: 1-byte kind, 2-byte big-endian length, payload.

Used by the phone server (phone.py) and the test caller (phone_client.py).
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = 2 * SAMPLE_RATE * FRAME_MS // 1000  # 320: 20 ms of 8 kHz 16-bit mono
_HEADER = struct.Struct(">BH")


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10  # signed linear 16-bit, 8 kHz, mono, little-endian
    ERROR = 0xFF


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes = b""

    def encode(self) -> bytes:
        if len(self.payload) > 0xFFFF:
            raise ValueError("AudioSocket payloads are at most 65535 bytes")
        return _HEADER.pack(self.kind, len(self.payload)) + self.payload


def uuid_frame(call_id: uuid.UUID) -> Frame:
    return Frame(Kind.UUID, call_id.bytes)


def audio_frame(pcm: bytes) -> Frame:
    return Frame(Kind.AUDIO, pcm)


HANGUP = Frame(Kind.HANGUP)


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None when the peer closed the connection."""
    try:
        kind, length = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        payload = await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return Frame(kind, payload)

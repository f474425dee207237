"""Kiosk WebSocket messages as small dataclasses (see voice/PROTOCOL.md).

Text frames carry one JSON object with a ``type``; binary frames carry 16-bit
little-endian mono PCM. ``parse_client`` turns a text frame into a message or
raises ``ProtocolError`` with a stable code the client can act on.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

KIOSK_SAMPLE_RATE = 16000
SENDER_PATTERN = re.compile(r"^[A-Za-z0-9_.:@\-]{1,64}$")
MAX_TEXT_CHARS = 500
# Channels a WebSocket client may name in ``start``; phone calls come over AudioSocket.
CHANNELS = ("kiosk", "web")
DEVICE_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_TOKEN_CHARS = 256


class ProtocolError(Exception):
    """A client mistake: reported as an ``error`` message, the connection stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- client -> server ---------------------------------------------------------


@dataclass(frozen=True)
class Start:
    type: ClassVar[str] = "start"
    sender: str
    sample_rate: int = KIOSK_SAMPLE_RATE
    channel: str = "kiosk"
    # The web widget can ask for text only (it has its own speaker button).
    speak: bool = True
    # A kiosk robot's id and token (voice/devices.py); required for channel "kiosk".
    device: str | None = None
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Text:
    type: ClassVar[str] = "text"
    text: str


@dataclass(frozen=True)
class EndOfAudio:
    type: ClassVar[str] = "end_of_audio"


ClientMessage = Start | Text | EndOfAudio


def parse_client(raw: str) -> ClientMessage:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ProtocolError("bad_json", f"text frames must be JSON objects: {error.msg}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "text frames must be JSON objects")
    kind = data.get("type")
    if kind == Start.type:
        return _start(data)
    if kind == Text.type:
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("bad_message", "text needs a non-empty string field 'text'")
        if len(text) > MAX_TEXT_CHARS:
            raise ProtocolError("bad_message", f"text is longer than {MAX_TEXT_CHARS} characters")
        return Text(text=text.strip())
    if kind == EndOfAudio.type:
        return EndOfAudio()
    raise ProtocolError("unknown_type", f"unknown message type: {str(kind)[:40]!r}")


def _start(data: dict[str, Any]) -> Start:
    sender = data.get("sender")
    if not isinstance(sender, str) or not SENDER_PATTERN.match(sender):
        raise ProtocolError(
            "bad_message", "start needs 'sender': 1-64 characters of letters, digits, _ . : @ -"
        )
    rate = data.get("sample_rate", KIOSK_SAMPLE_RATE)
    if rate != KIOSK_SAMPLE_RATE or isinstance(rate, bool):
        raise ProtocolError(
            "bad_sample_rate", f"sample_rate must be {KIOSK_SAMPLE_RATE} (16-bit mono PCM)"
        )
    channel = data.get("channel", "kiosk")
    if channel not in CHANNELS:
        raise ProtocolError("bad_message", f"channel must be one of {', '.join(CHANNELS)}")
    speak = data.get("speak", True)
    if not isinstance(speak, bool):
        raise ProtocolError("bad_message", "speak must be true or false")
    device = data.get("device")
    if device is not None and (not isinstance(device, str) or not DEVICE_PATTERN.match(device)):
        raise ProtocolError("bad_message", "device: 1-64 characters of letters, digits, _ . -")
    token = data.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS):
        raise ProtocolError(
            "bad_message", f"token: a string of at most {MAX_TOKEN_CHARS} characters"
        )
    return Start(
        sender=sender, sample_rate=rate, channel=channel, speak=speak, device=device, token=token
    )


# --- server -> client ---------------------------------------------------------


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Ready:
    type: ClassVar[str] = "ready"
    sender: str  # as the client sent it
    asr: bool
    speech_rate: int
    # The id the gateway gave the conversation (voice/conversations.py), as the
    # assistant, the handover queue and the agent view know it.
    conversation: str = ""


@dataclass(frozen=True)
class Partial:
    type: ClassVar[str] = "partial"
    text: str


@dataclass(frozen=True)
class Transcript:
    type: ClassVar[str] = "transcript"
    text: str
    confidence: float
    # What was sent to the assistant: digits/yes-no answers are normalised.
    message: str = ""
    grammar: str | None = None


@dataclass(frozen=True)
class Bot:
    type: ClassVar[str] = "bot"
    text: str
    buttons: list[Button] = field(default_factory=list)
    speech_rate: int = 0
    reprompt: bool = False


@dataclass(frozen=True)
class AudioStart:
    type: ClassVar[str] = "audio_start"
    sample_rate: int
    kind: str = "reply"  # reply | filler | reprompt


@dataclass(frozen=True)
class AudioEnd:
    type: ClassVar[str] = "audio_end"
    interrupted: bool = False


@dataclass(frozen=True)
class SessionEnd:
    type: ClassVar[str] = "end"
    reason: str


@dataclass(frozen=True)
class Error:
    type: ClassVar[str] = "error"
    code: str
    message: str


ServerMessage = Ready | Partial | Transcript | Bot | AudioStart | AudioEnd | SessionEnd | Error


def to_json(message: ServerMessage) -> str:
    return json.dumps({"type": message.type, **asdict(message)}, ensure_ascii=False)

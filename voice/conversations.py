"""Rasa conversation ids: chosen by the gateway, never by the client.

A client names its conversation (the widget's stored ``sender``, a robot's
``visit-0042``), but Rasa gets an id the gateway derives from what it knows
for certain, namespaced by channel and, for a robot, by its authenticated
device:

    web    web:<client sender>                    /v1/chat, /v1/tts, the widget's microphone
    kiosk  kiosk:<device>:<client sender>         /v1/kiosk with a device token
    phone  phone:<call uuid>                      AudioSocket (Asterisk picks the UUID)

The namespace is the first ``:``-separated part and only the gateway writes
it, so a web client can never address a robot's (identity-verified) or a
phone conversation, and one robot never another's: device ids have no ``:``.
The ids stay readable for the agent view and the handover queue (对话编号), and
fit its 128 characters (exchange ``Handover.conversation_id``).

Everything that finds a conversation by sender uses these ids: the Rasa REST
channel and tracker, the handover record the actions file (``tracker.sender_id``),
the per-conversation speech rate in ``Pipeline``, and the per-sender rate limit.

Web senders are public and typed by no one, so they must be unguessable: the
widget makes ``web-`` and 32 random hex digits (128 bits). The gateway refuses
ids shorter than ``MIN_WEB_SENDER_CHARS`` or whose characters carry less than
``MIN_WEB_SENDER_BITS`` (length times the Shannon entropy of their frequencies;
a cheap guard against ids like ``web-1`` or ``user-0000000000000001``, not
proof of randomness: that is the widget's job).
"""

from __future__ import annotations

import math
import uuid
from collections import Counter

from voice.protocol import DEVICE_PATTERN, SENDER_PATTERN

WEB = "web"
KIOSK = "kiosk"
PHONE = "phone"
NAMESPACES = (WEB, KIOSK, PHONE)

MAX_CONVERSATION_ID_CHARS = 128  # the exchange's handover conversation_id
MIN_WEB_SENDER_CHARS = 16
MIN_WEB_SENDER_BITS = 64.0


class SenderRefused(ValueError):
    """The client's sender cannot name a conversation (the message says why, in English)."""


def estimated_bits(text: str) -> float:
    """Length times the Shannon entropy of the character frequencies, in bits."""
    n = len(text)
    return -sum(count * math.log2(count / n) for count in Counter(text).values()) if n else 0.0


def web_sender_problem(sender: str) -> str | None:
    """Why ``sender`` cannot be a web sender, or None when it can."""
    if not isinstance(sender, str) or not SENDER_PATTERN.match(sender):
        return "sender: 1-64 characters of letters, digits, _ . : @ -"
    if len(sender) < MIN_WEB_SENDER_CHARS:
        return (
            f"sender: web senders need at least {MIN_WEB_SENDER_CHARS} random characters "
            "(e.g. crypto.randomUUID())"
        )
    if estimated_bits(sender) < MIN_WEB_SENDER_BITS:
        return "sender: too easy to guess; use a random id (e.g. crypto.randomUUID())"
    return None


def web(sender: str) -> str:
    """The conversation of a web widget (typed or spoken): ``web:<sender>``."""
    if problem := web_sender_problem(sender):
        raise SenderRefused(problem)
    return f"{WEB}:{sender}"


def kiosk(device: str, sender: str) -> str:
    """The conversation of an authenticated robot's visitor: ``kiosk:<device>:<sender>``."""
    if not DEVICE_PATTERN.match(device):
        raise SenderRefused("device: 1-64 characters of letters, digits, _ . -")
    if not SENDER_PATTERN.match(sender):
        raise SenderRefused("sender: 1-64 characters of letters, digits, _ . : @ -")
    conversation_id = f"{KIOSK}:{device}:{sender}"
    if len(conversation_id) > MAX_CONVERSATION_ID_CHARS:
        room = MAX_CONVERSATION_ID_CHARS - len(KIOSK) - len(device) - 2
        raise SenderRefused(f"sender: at most {room} characters with device {device!r}")
    return conversation_id


def phone(call_id: str | uuid.UUID) -> str:
    """The conversation of one phone call: ``phone:<call uuid>``."""
    return f"{PHONE}:{uuid.UUID(str(call_id))}"


def namespace(conversation_id: str) -> str | None:
    """``web``, ``kiosk`` or ``phone`` for an id made here; None for anything else."""
    head, sep, rest = conversation_id.partition(":")
    return head if sep and rest and head in NAMESPACES else None

"""Find ID numbers, phone digits and names in free text, however they were said.

``common.redact`` masks numbers written with digits. People also say them:
"幺幺零幺零五 一九四九零三幺二 洞洞两幺". ``nluext.digits`` (the one digit
normaliser) finds those spans in the original text, so they can be masked
where they stand. Used by the tracker store (stored user and bot text) and by
the handover summary (the agent sees the last turns, masked).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from common import idcard
from common.redact import protect_handlers, redact
from nluext.digits import find_numbers

PHONE_MASK = "****"
_CLOCK = re.compile(r"\d{1,2}[:：]\d{2}")


def _is_clock_time(span_text: str) -> bool:
    return bool(_CLOCK.search(span_text))


def _mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1)


def redact_text(
    text: str,
    *,
    phone_last4: Iterable[str] = (),
    names: Iterable[str] = (),
    partial_numbers: bool = True,
) -> str:
    """``text`` with ID numbers masked (first 6 + last 4), the given phone digits and
    names hidden, and mobile numbers removed, whether written or spoken.

    ``partial_numbers`` also hides any long digit run (a person reading out part
    of an ID number). The bot's own text passes False: it holds opening hours
    and hall phone numbers that must be kept as said, and its ID read-back is a
    whole number, masked anyway.
    """
    if not text:
        return text
    phones = {p for p in phone_last4 if p}
    pieces: list[str] = []
    position = 0
    for span in find_numbers(text):
        value = span.value
        replacement = None
        if not partial_numbers and _is_clock_time(text[span.start : span.end]):
            continue  # "9:00-12:00，13:30-17:00" is opening hours, not a number
        if (len(value) == 18 and idcard.is_valid(value)) or (
            len(value) >= 15 and value[:17].isdigit()
        ):
            replacement = idcard.mask(value)
        elif value in phones or (len(value) == 11 and value.startswith("1")):
            replacement = PHONE_MASK
        elif partial_numbers and len(value) >= 9 and value.isdigit():
            # A long run of digits is most likely part of an ID number being read out.
            replacement = value[:2] + "*" * (len(value) - 2)
        if replacement is not None:
            pieces.append(text[position : span.start])
            pieces.append(replacement)
            position = span.end
    pieces.append(text[position:])
    result = redact("".join(pieces))
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        result = result.replace(name, _mask_name(name))
    return result


class LogRedactor:
    """Masks ID numbers, phone numbers and names in the Rasa process's log lines.

    Rasa's debug logs quote user text, entities and slot values, often as JSON
    with ``\\uXXXX`` escapes. Escapes are decoded first (the lines become
    readable and nothing hides behind them); names are learnt from the
    ``person_name``/``proxy_name`` entities and slots the same line carries
    (Rasa logs a message's text and its entities together) and masked wherever
    they appear afterwards; numbers are masked, written or spoken.
    """

    _ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
    _NAMES = (
        re.compile(r"""["']entity["']:\s*["'](?:person_name|proxy_name)["'][^}]*?["']value["']:\s*["']([^"']{2,12})["']"""),
        re.compile(r"""(?:person_name|proxy_name)["']?(?:,\s*value)?\s*[:=]\s*["']?([^\s"',)|\\]{2,12})"""),
    )  # fmt: skip
    _REMEMBERED = 2000

    def __init__(self) -> None:
        self._names: dict[str, None] = {}  # insertion-ordered: oldest forgotten first

    def __call__(self, text: str) -> str:
        text = self._ESCAPE.sub(_unescape, text)
        for pattern in self._NAMES:
            for name in pattern.findall(text):
                if name not in ("None", "null") and "*" not in name:
                    self._names.pop(name, None)
                    self._names[name] = None
        while len(self._names) > self._REMEMBERED:
            self._names.pop(next(iter(self._names)))
        return redact_text(text, names=list(self._names))


def _unescape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    # A lone surrogate (half of an escaped emoji) cannot be written to a log file.
    return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)


def protect_logs() -> None:
    """Mask personal information in every log line of the Rasa process.

    Rasa logs the user's text, entities and slots at debug level (and
    tracebacks can quote them). Rasa configures logging itself, so this runs
    when the tracker store is created, after that set-up and before the first
    message.
    """
    protect_handlers(LogRedactor())

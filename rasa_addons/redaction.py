"""Find ID numbers, phone digits and names in free text, however they were said.

``common.redact`` masks numbers written with digits. People also say them:
"幺幺零幺零五 一九四九零三幺二 洞洞两幺". ``nluext.digits`` (the one digit
normaliser) finds those spans in the original text, so they can be masked
where they stand. Used by the tracker store (stored user and bot text) and by
the handover summary (the agent sees the last turns, masked).
"""

from __future__ import annotations

from collections.abc import Iterable

from common import idcard
from common.redact import redact
from nluext.digits import find_numbers

PHONE_MASK = "****"


def _mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1)


def redact_text(text: str, *, phone_last4: Iterable[str] = (), names: Iterable[str] = ()) -> str:
    """``text`` with ID numbers masked (first 6 + last 4), the given phone digits and
    names hidden, and mobile numbers removed, whether written or spoken."""
    if not text:
        return text
    phones = {p for p in phone_last4 if p}
    pieces: list[str] = []
    position = 0
    for span in find_numbers(text):
        value = span.value
        replacement = None
        if (len(value) == 18 and idcard.is_valid(value)) or (
            len(value) >= 15 and value[:17].isdigit()
        ):
            replacement = idcard.mask(value)
        elif value in phones or (len(value) == 11 and value.startswith("1")):
            replacement = PHONE_MASK
        elif len(value) >= 9 and value.isdigit():
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

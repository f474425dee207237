"""Resident identity card numbers (GB 11643-1999): validation, masking, read-back.

One place for these rules: the exchange validates with it, the actions validate
with it before calling the exchange, and the voice/NLU layers group digits with it.
"""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CODES = "10X98765432"
_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
# Used to find ID numbers inside free text (logs, tracker events).
ID_NUMBER_IN_TEXT = re.compile(
    r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9])"
)


def check_digit(first17: str) -> str:
    """The 18th character for the given first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CODES[total % 11]


def normalise(value: str) -> str:
    """Uppercase the check character and drop spaces/dashes people type between groups."""
    return re.sub(r"[\s\-－—]", "", value or "").upper()


def problem(value: str) -> str | None:
    """Why ``value`` is not a valid ID number, or None when it is valid.

    The reasons are stable machine codes: ``length``, ``characters``,
    ``birth_date``, ``check_digit``.
    """
    number = normalise(value)
    if len(number) != 18:
        return "length"
    if not _SHAPE.match(number):
        return "characters"
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "birth_date"
    if born.year < 1880 or born > dt.date.today():
        return "birth_date"
    if check_digit(number[:17]) != number[17]:
        return "check_digit"
    return None


def is_valid(value: str) -> bool:
    return problem(value) is None


def birth_date(value: str) -> dt.date:
    number = normalise(value)
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def gender(value: str) -> str:
    """'M' or 'F' from the sequence digit (odd = male)."""
    return "M" if int(normalise(value)[16]) % 2 else "F"


def mask(value: str) -> str:
    """First 6 and last 4 characters visible: ``110105********0021``."""
    number = normalise(value)
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def groups(value: str) -> list[str]:
    """Split for reading aloud: region (6), birth date (8), sequence and check (4)."""
    number = normalise(value)
    return [number[:6], number[6:14], number[14:]]


def mask_in_text(text: str) -> str:
    """Mask every ID number found in free text."""
    return ID_NUMBER_IN_TEXT.sub(lambda m: mask(m.group(0)), text)

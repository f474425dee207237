"""Spoken and typed numbers -> ASCII digits; the numbers the assistant asks for.

The one digit/ID normaliser of the project: the NLU components
(``nluext.components``) and the form validation actions both use it, so a number
is read the same way wherever it is said. Pure functions, no Rasa import.

What it understands, as older people say or type numbers and as speech
recognition writes them down:

* ASCII and fullwidth digits (``１２３``);
* Chinese digits ``零〇洞`` = 0, ``一幺`` = 1, ``二两`` = 2, ``三``...``九``
  (``幺``, ``两`` and ``洞`` are how numbers are read aloud over the phone);
* short numbers with ``十``/``百`` (``二十三`` = 23, ``一百零五`` = 105);
* groups separated by spaces, commas, dashes, pauses or fillers
  (``幺幺零幺零五 嗯 一九四九``) joined into one number;
* the ID check character ``X`` said as ``叉``, ``艾克斯``... or typed ``x``;
* application numbers: two letters (typed in any case or said as letter names,
  ``艾斯比``) and eight digits.

Stable API (used by the actions):

``normalise_digits(text) -> str``
    the text with every number written in ASCII digits.
``extract_id_number(text) -> str | None``
    an 18-character ID number (shape only; check it with ``common.idcard``).
``extract_phone_last4(text) -> str | None``
    the last four digits of a phone number.
``extract_application_number(text) -> str | None``
    ``SB20240001`` style application numbers, uppercase.
``find_numbers``, ``find_id_number``, ``find_phone_last4``,
``find_application_number``
    the same with the position of the number in the original text
    (``NumberSpan``), for the NLU entity extractor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "NumberSpan",
    "extract_application_number",
    "extract_id_number",
    "extract_phone_last4",
    "find_application_number",
    "find_id_number",
    "find_numbers",
    "find_phone_last4",
    "normalise_digits",
]

_CHINESE_DIGITS = {
    "零": "0", "〇": "0", "洞": "0",
    "一": "1", "幺": "1",
    "二": "2", "两": "2",
    "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}  # fmt: skip
_DIGITS = {
    **_CHINESE_DIGITS,
    **{str(d): str(d) for d in range(10)},
    **{chr(0xFF10 + d): str(d) for d in range(10)},  # fullwidth ０-９
}
_UNITS = {"十": 10, "百": 100}
# Between two digit groups: spaces, punctuation, and the fillers of speech.
_SEPARATOR = re.compile(r"(?:[\s,，、。;；:：\-－—–_~～…·/]|嗯|呃|额|啊)+")
# The ID check character: typed X/x, or said as the letter or as 叉 (cross).
_CHECK_X = re.compile(r"[Xx×Ｘｘ叉]|艾克斯|爱克斯|埃克斯")
# A lone Chinese digit followed by one of these is a number too (三月五号).
_DATE_UNITS = "月号日"
_ID_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# After a 4-digit number these make it a year, a date, an age or an amount.
_NOT_PHONE_AFTER = "年月日号岁块元分秒个次"
_PHONE_CONTEXT = re.compile(r"尾号|后四位|后4位|末四位|末尾|手机|电话|号码")
_PHONE_FILLERS = re.compile(r"[是的吧呀啊嗯呢哦就对]+")

# Letter names as people read Latin letters aloud in Mandarin. Only used right
# before the eight digits of an application number, so ordinary words that
# sound like letters (比, 西) are not turned into letters elsewhere.
_LETTER_NAMES = {
    "A": ("诶", "欸", "埃"),
    "B": ("比", "必", "逼", "碧"),
    "C": ("西", "希", "塞"),
    "D": ("迪", "滴", "弟"),
    "E": ("伊", "衣"),
    "F": ("艾弗", "爱夫", "艾夫"),
    "G": ("鸡", "基", "记"),
    "H": ("艾尺", "爱曲", "艾奇", "爱驰"),
    "I": ("爱",),
    "J": ("杰", "街"),
    "K": ("开", "凯"),
    "L": ("艾勒", "艾欧", "爱罗", "艾路"),
    "M": ("艾姆", "爱姆", "爱慕"),
    "N": ("恩",),
    "O": ("欧", "噢"),
    "P": ("批", "屁", "皮"),
    "Q": ("丘", "扣", "秋"),
    "R": ("阿尔", "啊尔"),
    "S": ("艾斯", "爱死", "埃斯", "爱斯"),
    "T": ("替", "踢", "提"),
    "U": ("优", "悠"),
    "V": ("维", "威", "微"),
    "W": ("达不溜", "大不溜", "达布溜"),
    "X": ("艾克斯", "爱克斯", "埃克斯"),
    "Y": ("歪", "外"),
    "Z": ("贼", "仄", "兹"),
}
_LETTER_BY_NAME = {name: letter for letter, names in _LETTER_NAMES.items() for name in names}
_LETTER_NAME_LENGTHS = sorted({len(n) for n in _LETTER_BY_NAME}, reverse=True)


@dataclass(frozen=True)
class NumberSpan:
    """A number found in a text: ``text[start:end]`` was said, ``value`` is meant."""

    start: int
    end: int
    value: str


@dataclass
class _Group:
    start: int
    end: int
    chars: str
    has_unit: bool
    has_ascii: bool


def _groups(text: str) -> list[_Group]:
    """Maximal runs of digit characters (and 十/百) with no gap."""
    groups: list[_Group] = []
    i = 0
    while i < len(text):
        if text[i] in _DIGITS or text[i] in _UNITS:
            start = i
            while i < len(text) and (text[i] in _DIGITS or text[i] in _UNITS):
                i += 1
            chars = text[start:i]
            groups.append(
                _Group(
                    start,
                    i,
                    chars,
                    has_unit=any(c in _UNITS for c in chars),
                    has_ascii=any(c not in _CHINESE_DIGITS and c not in _UNITS for c in chars),
                )
            )
        else:
            i += 1
    return groups


def _small_number(chars: str) -> str | None:
    """``二十三`` -> ``23``, ``一百零五`` -> ``105``; None when it is no such number."""

    def digit(c: str) -> int | None:
        value = _CHINESE_DIGITS.get(c)
        return None if value in (None, "0") else int(value)

    def tens(part: str) -> int | None:
        if part == "":
            return 0
        if "十" not in part:
            return None
        left, right = part.split("十", 1)
        high = 1 if left == "" else (digit(left) if len(left) == 1 else None)
        low = 0 if right == "" else (digit(right) if len(right) == 1 else None)
        return None if high is None or low is None else high * 10 + low

    if chars.count("百") > 1 or chars.count("十") > 1:
        return None
    if "百" in chars:
        left, rest = chars.split("百", 1)
        hundreds = digit(left) if len(left) == 1 else None
        if hundreds is None:
            return None
        if rest.startswith("零"):
            low = digit(rest[1:]) if len(rest) == 2 else None
            return None if low is None else str(hundreds * 100 + low)
        below = tens(rest)
        return None if below is None else str(hundreds * 100 + below)
    value = tens(chars)
    return None if value is None else str(value)


def _plain_digits(chars: str) -> str:
    return "".join(_DIGITS[c] for c in chars)


def find_numbers(text: str) -> list[NumberSpan]:
    """Every number in ``text``, in order, with its position and ASCII value.

    A single Chinese digit on its own (``一个``, ``两天``) is a word, not a
    number, unless a date unit follows (``五号``). Digit groups separated
    only by spaces, punctuation or fillers are one number, so an ID number
    read in three groups comes back whole. The ID check character ``X``
    is kept after a run of 17 digits.
    """
    text = text or ""
    spans: list[NumberSpan] = []
    pending: list[_Group] = []

    def flush() -> None:
        if not pending:
            return
        if len(pending) == 1 and pending[0].has_unit:
            group = pending[0]
            value = _small_number(group.chars)
            # A lone 十 is a word (十分感谢), unless a date unit follows (十号).
            lone_ten = group.chars == "十" and not (
                group.end < len(text) and text[group.end] in _DATE_UNITS
            )
            if value is not None and not lone_ten:
                spans.append(NumberSpan(group.start, group.end, value))
            pending.clear()
            return
        value = "".join(_plain_digits(g.chars) for g in pending)
        start, end = pending[0].start, pending[-1].end
        lone_word = (
            len(value) == 1
            and not pending[0].has_ascii
            and not (end < len(text) and text[end] in _DATE_UNITS)
        )
        if not lone_word:
            if len(value) == 17:
                check = _CHECK_X.match(text, end) or _after_separator(text, end, _CHECK_X)
                if check:
                    value, end = value + "X", check.end()
            spans.append(NumberSpan(start, end, value))
        pending.clear()

    for group in _groups(text):
        if group.has_unit:
            flush()
            pending.append(group)
            flush()
            continue
        if pending:
            gap = text[pending[-1].end : group.start]
            if not _SEPARATOR.fullmatch(gap):
                flush()
        pending.append(group)
    flush()
    return spans


def _after_separator(text: str, position: int, pattern: re.Pattern[str]) -> re.Match[str] | None:
    gap = _SEPARATOR.match(text, position)
    if not gap:
        return None
    return pattern.match(text, gap.end())


def normalise_digits(text: str) -> str:
    """``text`` with every number in ASCII digits and without gaps inside numbers.

    >>> normalise_digits("幺幺零 幺零五，嗯 一九四九")
    '1101051949'
    >>> normalise_digits("我今年七十二，住三号楼")
    '我今年72，住3号楼'
    """
    text = text or ""
    out: list[str] = []
    position = 0
    for span in find_numbers(text):
        out.append(text[position : span.start])
        out.append(span.value)
        position = span.end
    out.append(text[position:])
    return "".join(out)


def find_id_number(text: str) -> NumberSpan | None:
    """The first 18-character ID number (17 digits + digit or X) in ``text``."""
    for span in find_numbers(text):
        if _ID_SHAPE.match(span.value):
            return span
    return None


def extract_id_number(text: str) -> str | None:
    """``"幺幺零幺零五 … 洞洞两幺"`` (18 characters said) -> ``"110105********0021"`` (masked here).

    Only the shape is checked (18 characters, the last may be X); whether the
    number is valid is ``common.idcard.problem``'s job, so the caller can tell
    the user *why* it is wrong.
    """
    span = find_id_number(text)
    return span.value if span else None


def find_phone_last4(text: str) -> NumberSpan | None:
    """The last four digits of a phone number, when the text is about one.

    A 4-digit number counts when the text mentions the phone (``尾号``,
    ``手机``, ``电话``...) or is only that number (the answer to "what are the
    last four digits?"); never when it is a year, date, age or amount
    (``1949年``, ``2024``, ``3000块``). A whole mobile number gives its last four.
    """
    text = text or ""
    for span in find_numbers(text):
        if _MOBILE.match(span.value):
            return NumberSpan(span.start, span.end, span.value[-4:])
    context = bool(_PHONE_CONTEXT.search(text))
    for span in find_numbers(text):
        if len(span.value) != 4 or not span.value.isdigit():
            continue
        if span.end < len(text) and text[span.end] in _NOT_PHONE_AFTER:
            continue
        rest = _SEPARATOR.sub("", text[: span.start] + text[span.end :])
        if context or not _PHONE_FILLERS.sub("", rest):
            return span
    return None


def extract_phone_last4(text: str) -> str | None:
    """``"尾号幺三五七"`` -> ``"1357"``; ``"1949年"`` -> None."""
    span = find_phone_last4(text)
    return span.value if span else None


def _letter_before(text: str, end: int) -> tuple[str, int] | None:
    """The letter that ends at ``end`` (typed or said) and where it starts."""
    gap = re.search(r"[\s\-－_]*$", text[:end])
    end = gap.start() if gap else end
    if end <= 0:
        return None
    char = text[end - 1]
    if char.isascii() and char.isalpha():
        return char.upper(), end - 1
    if "Ａ" <= char <= "Ｚ" or "ａ" <= char <= "ｚ":
        return chr(ord(char.upper()) - 0xFF21 + ord("A")), end - 1
    for length in _LETTER_NAME_LENGTHS:
        name = text[max(0, end - length) : end]
        if name in _LETTER_BY_NAME:
            return _LETTER_BY_NAME[name], end - length
    return None


def find_application_number(text: str) -> NumberSpan | None:
    """Two letters then eight digits: ``sb 2024 0001``, ``艾斯比二零二四零零零一``."""
    text = text or ""
    for span in find_numbers(text):
        if len(span.value) != 8 or not span.value.isdigit():
            continue
        second = _letter_before(text, span.start)
        if not second:
            continue
        first = _letter_before(text, second[1])
        if not first:
            continue
        # A third letter right before means it is some other code, not ours.
        if first[1] > 0 and text[first[1] - 1].isascii() and text[first[1] - 1].isalpha():
            continue
        return NumberSpan(first[1], span.end, first[0] + second[0] + span.value)
    return None


def extract_application_number(text: str) -> str | None:
    """``"申请号sb20240001"`` -> ``"SB20240001"``."""
    span = find_application_number(text)
    return span.value if span else None

"""Turn a bot reply into text that espeak-ng's Mandarin voice reads correctly.

Screens can show "2024-03-05", "¥1,280.50", a URL or an emoji; a listener needs
"二零二四年三月五日", "一千二百八十元五角" and nothing for the rest. Digit
strings (ID, phone, application numbers) are read digit by digit in groups, with
a pause (，) between groups. Chinese punctuation stays: it is where espeak
pauses. Last, a small lexicon (lexicon.yml) replaces words whose characters
espeak reads with the wrong sound (银行 is not "yin xing") by tone-numbered
pinyin, which the ``cmn-latn-pinyin`` voice reads as Mandarin.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import yaml

from common.idcard import groups as id_groups

DIGITS = "零一二三四五六七八九"
LEXICON_FILE = Path(__file__).resolve().parent / "lexicon.yml"
# Chinese names of Latin letters, for codes such as "SB" in an application number.
LETTERS = {
    "A": "诶", "B": "比", "C": "西", "D": "迪", "E": "伊", "F": "艾弗", "G": "吉",
    "H": "艾尺", "I": "艾", "J": "杰", "K": "开", "L": "艾勒", "M": "艾姆", "N": "恩",
    "O": "欧", "P": "皮", "Q": "丘", "R": "阿尔", "S": "艾斯", "T": "提", "U": "优",
    "V": "维", "W": "达布流", "X": "叉", "Y": "歪", "Z": "贼德",
}  # fmt: skip
SENTENCE_END = "。！？；…"
MAX_SENTENCE_CHARS = 60

_URL = re.compile(r"(?:https?://|www\.)[^\s\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_MARKDOWN = re.compile(r"\*\*|__|`+|^#{1,6}\s*|^\s*[-*•]\s+", re.M)
_DATE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?(?!\d)")
_YEAR_MONTH = re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月")
_YEAR = re.compile(r"(?<!\d)(\d{4})\s*年")
_TIME = re.compile(r"(?<!\d)([01]?\d|2[0-3])[:：]([0-5]\d)(?!\d)")
_RANGE = re.compile(r"(?<=[\d点分日号月])\s*[-~～—–]+\s*(?=\d)")
_AMOUNT = re.compile(
    r"[¥￥]\s*(\d[\d,]*)(?:\.(\d{1,2}))?\s*元?|(\d[\d,]*)(?:\.(\d{1,2}))?\s*(?:元|块钱|块)"
)
_WAN_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(万|亿)\s*元")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*[%％]")
_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])")
_LIST_MARKER = re.compile(r"(?m)^\s*(\d{1,2})\s*[.、)）]\s*")
_MASKED = re.compile(r"(?<![\dA-Za-z])(\d{1,8})\*{2,}(\d{1,4}[\dXx]?)(?![\dA-Za-z])")
_ID_NUMBER = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_DIGITS = re.compile(r"(?<!\d)(第?)(\d+)(?!\d)(.?)")
# After these a number is a code read digit by digit (尾号, 编号, 号码, 密码, 验证码).
_CODE_BEFORE = re.compile(r"[号码]\s*$")
_LATIN = re.compile(r"[A-Za-z]+")
_ASCII_PUNCT = {",": "，", ";": "；", "?": "？", "!": "！", ":": "：", "(": "，", ")": "，",
                "（": "，", "）": "，", "【": "", "】": "", "[": "", "]": "", "/": "或",
                "“": "", "”": "", '"': "", "'": "", "‘": "", "’": "", "「": "", "」": "",
                "《": "", "》": "", "<": "", ">": "", "|": "，", "=": "", "+": "加",
                "&": "和", "~": "到", "…": "。", "—": "，", "_": ""}  # fmt: skip


def digits_aloud(value: str, *, one_as_yao: bool = False) -> str:
    """ "1024" -> "一零二四" (or "幺零二四"); X is read as 叉."""
    out = []
    for ch in value:
        if ch.isdigit():
            out.append("幺" if ch == "1" and one_as_yao else DIGITS[int(ch)])
        elif ch in "Xx":
            out.append("叉")
    return "".join(out)


def grouped(groups: list[str], *, one_as_yao: bool = False) -> str:
    return "，".join(digits_aloud(g, one_as_yao=one_as_yao) for g in groups if g)


def _section(n: int) -> str:
    """0 < n < 10000 in Chinese: 2024 -> 两千零二十四."""
    out, zero = "", False
    for unit, value in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("两" if d == 2 and unit == "千" else DIGITS[d]) + unit
    return out


def cardinal(n: int) -> str:
    """An integer in words: 15 -> 十五, 10005 -> 一万零五, 120000000 -> 一亿两千万."""
    if n == 0:
        return "零"
    out, pending_zero = "", False
    for unit, value in (("亿", 10**8), ("万", 10**4), ("", 1)):
        part = n // value if unit == "亿" else n // value % 10000
        if part == 0:
            pending_zero = bool(out)
            continue
        words = cardinal(part) if part >= 10000 else _section(part)
        if out and (pending_zero or part < 1000):
            out += "零"
        out += words + unit
        pending_zero = False
    if out.startswith("一十"):  # 十五, not 一十五
        out = out[1:]
    return out


def _number(value: str) -> str:
    whole, _, frac = value.partition(".")
    text = cardinal(int(whole or "0"))
    return text + ("点" + digits_aloud(frac) if frac else "")


def _amount(match: re.Match) -> str:
    whole = (match.group(1) or match.group(3) or "0").replace(",", "")
    frac = (match.group(2) or match.group(4) or "").ljust(2, "0")
    jiao, fen = int(frac[0]), int(frac[1])
    out = cardinal(int(whole)) + "元" if int(whole) or not (jiao or fen) else ""
    if jiao:
        out += DIGITS[jiao] + "角"
    if fen:
        out += ("零" if out and not jiao else "") + DIGITS[fen] + "分"
    return out


def _plain_digits(match: re.Match, one_as_yao: bool) -> str:
    prefix, number, after = match.group(1), match.group(2), match.group(3)
    code = bool(_CODE_BEFORE.search(match.string[: match.start()]))
    quantity = bool(after) and "\u4e00" <= after <= "\u9fff"  # 三个, 十五天, 一百人
    if prefix or (not code and len(number) <= 4 and (quantity or len(number) <= 2)):
        return prefix + cardinal(int(number)) + after
    size = 4 if len(number) % 4 != 1 else 3
    parts = [number[i : i + size] for i in range(0, len(number), size)]
    return grouped(parts, one_as_yao=one_as_yao) + after


def _strip_symbols(text: str) -> str:
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("So", "Sk", "Cs", "Co", "Cf", "Mn") or (category == "Cc" and ch != "\n"):
            continue  # emoji, pictographs, joiners, variation selectors, control characters
        kept.append(ch)
    return "".join(kept)


@functools.lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_FILE) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()}


def apply_lexicon(text: str, lexicon: dict[str, str]) -> str:
    if not lexicon:
        return text
    pattern = _lexicon_pattern(tuple(sorted(lexicon, key=len, reverse=True)))
    return pattern.sub(lambda m: " " + lexicon[m.group(0)] + " ", text)


@functools.lru_cache(maxsize=8)
def _lexicon_pattern(words: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(re.escape(w) for w in words))


def _date(m: re.Match) -> str:
    return f"{digits_aloud(m.group(1))}年{cardinal(int(m.group(2)))}月{cardinal(int(m.group(3)))}日"


def _year_month(m: re.Match) -> str:
    return f"{digits_aloud(m.group(1))}年{cardinal(int(m.group(2)))}月"


def _time(m: re.Match) -> str:
    hour, minute = int(m.group(1)), m.group(2)
    if minute == "00":
        return f"{cardinal(hour)}点"
    return f"{cardinal(hour)}点{'零' if minute[0] == '0' else ''}{cardinal(int(minute))}分"


def _latin(m: re.Match) -> str:
    return "".join(LETTERS.get(ch.upper(), "") for ch in m.group(0))


def speakable(text: str, *, one_as_yao: bool = False, lexicon: dict[str, str] | None = None) -> str:
    """The reply as espeak-ng should read it."""
    yao = {"one_as_yao": one_as_yao}
    text = unicodedata.normalize("NFKC", text).replace("\r", "")
    text = _MASKED.sub(lambda m: grouped([m.group(1), m.group(2)], **yao), text)
    for pattern in (_URL, _EMAIL, _MARKDOWN):
        text = pattern.sub("", text)
    text = _strip_symbols(text)
    text = _LIST_MARKER.sub(lambda m: cardinal(int(m.group(1))) + "，", text)
    text = _ID_NUMBER.sub(lambda m: grouped(id_groups(m.group(0)), **yao), text)
    text = _MOBILE.sub(lambda m: grouped([m[0][:3], m[0][3:7], m[0][7:]], **yao), text)
    text = _DATE.sub(_date, text)
    text = _YEAR_MONTH.sub(_year_month, text)
    text = _YEAR.sub(lambda m: digits_aloud(m.group(1)) + "年", text)
    text = _RANGE.sub("到", text)
    text = _TIME.sub(_time, text)
    text = _WAN_AMOUNT.sub(lambda m: _number(m.group(1)) + m.group(2) + "元", text)
    text = _AMOUNT.sub(_amount, text)
    text = _PERCENT.sub(lambda m: "百分之" + _number(m.group(1)), text)
    text = _DECIMAL.sub(lambda m: _number(m.group(0)), text)
    text = _DIGITS.sub(lambda m: _plain_digits(m, one_as_yao), text)
    text = _LATIN.sub(_latin, text)
    text = _punctuation(text)
    return apply_lexicon(text, load_lexicon() if lexicon is None else lexicon).strip()


def _punctuation(text: str) -> str:
    text = re.sub(r"\.(?=\s|$)|。", "。", text)
    text = "".join(_ASCII_PUNCT.get(ch, ch) for ch in text)
    text = re.sub(r"\.", "点", text)
    # Line breaks are pauses: end the line with a full stop unless it has one.
    text = re.sub(r"(?<![，。！？；：、])\s*\n+\s*", "。", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(?<=[\u3000-\u9fff]) (?=[\u3000-\u9fff])", "", text)
    text = re.sub(r"([，、：])[，、：\s]*", r"\1", text)  # collapse runs of pauses
    text = re.sub(r"[，、：]+([。！？；])", r"\1", text)
    text = re.sub(r"([。！？；])[，。！？；\s]+", r"\1", text)
    return text.strip("，、： ")


def sentences(text: str) -> list[str]:
    """Split speakable text into sentences, so the first is spoken while the rest is made."""
    pieces = re.findall(rf"[^{SENTENCE_END}]+[{SENTENCE_END}]*|[{SENTENCE_END}]+", text)
    out: list[str] = []
    for piece in (p.strip() for p in pieces):
        if not re.search(r"[\w]", piece):
            if out:
                out[-1] += piece
            continue
        while len(piece) > MAX_SENTENCE_CHARS:  # very long: cut at the last comma in range
            cut = piece.rfind("，", 0, MAX_SENTENCE_CHARS)
            cut = cut if cut > 0 else MAX_SENTENCE_CHARS - 1
            out.append(piece[: cut + 1])
            piece = piece[cut + 1 :]
        if piece:
            out.append(piece)
    return out


def spoken_choices(text: str, titles: list[str]) -> str:
    """Buttons are invisible on a phone (and hard to read for many): say them, numbered."""
    missing = [t for t in titles if t and t not in text]
    if not missing:
        return text
    numbered = all(re.match(r"^\s*\d", t) for t in missing)
    items = missing if numbered else [f"{i}、{t}" for i, t in enumerate(missing, 1)]
    joiner = "" if not text or text[-1] in "。！？；：" else "。"
    return f"{text}{joiner}您可以说：" + "；".join(items) + "。"

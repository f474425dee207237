"""What the actions read from a conversation, and how they say numbers, dates and money.

Small pure helpers shared by every action module: the latest message (intent,
text, entities), the bot's last turn (for "repeat"), numbered choices and
yes/no answers, and the spoken forms of ID numbers, dates and amounts.
Digits are normalised by ``nluext.digits`` only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from common import idcard
from nluext.digits import normalise_digits

REQUESTED_SLOT = "requested_slot"

# Intents that steer the conversation; a form never takes them as an answer.
CONTROL_INTENTS = frozenset(
    {
        "repeat", "slow_down", "cancel", "request_human", "goodbye", "greet", "thank",
        "ask_capabilities", "bot_challenge",
    }
)  # fmt: skip
SERVICE_INTENTS = frozenset(
    {
        "renew_id_card", "transfer_social_insurance", "pension_certification",
        "medical_insurance_filing", "social_security_card", "query_pension_payment",
        "check_application_status", "find_service_hall", "apply_senior_card",
    }
)  # fmt: skip
SERVICES_NEEDING_IDENTITY = SERVICE_INTENTS - {"find_service_hall", "check_application_status"}

_CHINESE_DIGIT = dict(zip("0123456789", "零一二三四五六七八九", strict=True))
_WEEKDAYS = "一二三四五六日"

_YES_WORDS = re.compile(
    r"^(对|是|是的|对的|没错|没问题|正确|好|好的|行|可以|嗯|确认|确定|要|需要|同意)"
)
_NO_WORDS = re.compile(
    r"(不对|不是|错了|不行|不要|不用|不需要|不正确|不确定|有错|改一下|要改|没有)"
)
# A message that is only a choice: "1", "一", "第一个", "选2", "2号", "第三项".
# Said to agree although they contain a "no" word.
_SURE_WORDS = re.compile(r"没错|没问题|没有问题|不错|没有错")
_CHOICE = re.compile(r"^(?:选|选择|我选|要)?第?(\d{1,2})(?:个|项|号|条|种|家)?(?:吧|呀|啊)?$")
_SMALL = {"一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6",
          "七": "7", "八": "8", "九": "9", "十": "10"}  # fmt: skip
_LONE_DIGIT = re.compile(
    r"^(选|选择|我选|要)?(?:第)?([一幺二两三四五六七八九十])((?:个|项|号|条|种|家)?(?:吧|呀|啊)?)$"
)
_PUNCTUATION = re.compile(r"[\s,，。.!！?？、;；:：~～…·'\"“”‘’()（）\[\]【】]+")


@dataclass
class Turn:
    """One action call: the dispatcher, the tracker and a working copy of the slots."""

    dispatcher: CollectingDispatcher
    tracker: Tracker
    domain: DomainDict
    slots: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.slots:
            self.slots = dict(self.tracker.slots)

    @property
    def intent(self) -> str | None:
        return latest_intent(self.tracker)

    @property
    def text(self) -> str:
        return latest_text(self.tracker)

    @property
    def requested(self) -> str | None:
        return self.slots.get(REQUESTED_SLOT)

    def get(self, slot: str) -> Any:
        return self.slots.get(slot)

    def say(self, response: str, **variables: Any) -> None:
        self.dispatcher.utter_message(response=response, **variables)


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_text(tracker: Tracker) -> str:
    text = (tracker.latest_message or {}).get("text") or ""
    return text if isinstance(text, str) else ""


def latest_entities(tracker: Tracker) -> list[dict[str, Any]]:
    return [e for e in (tracker.latest_message or {}).get("entities") or [] if isinstance(e, dict)]


def entity_values(tracker: Tracker, name: str) -> list[str]:
    return [
        str(e["value"])
        for e in latest_entities(tracker)
        if e.get("entity") == name and e.get("value")
    ]


def plain(text: str) -> str:
    """The text without spaces and punctuation: what is left to understand."""
    return _PUNCTUATION.sub("", text or "")


def parse_choice(text: str, count: int) -> int | None:
    """The 0-based option a message picks ("2", "二", "第二个"), if it is only that."""
    words = plain(text)
    # A lone Chinese digit is a word for the normaliser ("一个"); here it is the choice.
    words = _LONE_DIGIT.sub(lambda m: (m.group(1) or "") + _SMALL[m.group(2)] + m.group(3), words)
    match = _CHOICE.match(normalise_digits(words))
    if not match:
        return None
    number = int(match.group(1))
    return number - 1 if 1 <= number <= count else None


def keyword_choice(text: str, keywords: Mapping[str, Iterable[str]]) -> str | None:
    """The first option one of whose words the message contains."""
    words = plain(text)
    for option, option_words in keywords.items():
        if any(word in words for word in option_words):
            return option
    return None


def numbered_or_keyword_choice(
    text: str, options: Iterable[str], keywords: Mapping[str, Iterable[str]]
) -> str | None:
    """An option picked by its number ("2", "第二个") or else by one of its words."""
    options = list(options)
    index = parse_choice(text, len(options))
    return options[index] if index is not None else keyword_choice(text, keywords)


def yes_or_no(intent: str | None, text: str) -> bool | None:
    """True for yes, False for no, None when the message is neither."""
    words = plain(text)
    if _SURE_WORDS.search(words):
        return True
    if _NO_WORDS.search(words):
        return False
    if intent == "deny":
        return False
    if intent == "affirm" or (_YES_WORDS.match(words) and len(words) <= 6):
        return True
    return None


def last_bot_turn(tracker: Tracker) -> list[dict[str, Any]]:
    """The bot messages sent after the user's previous message (before the latest one)."""
    events = list(tracker.events)
    user_positions = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if not user_positions:
        return [e for e in events if e.get("event") == "bot"]
    latest = user_positions[-1]
    previous = user_positions[-2] if len(user_positions) > 1 else -1
    return [e for e in events[previous + 1 : latest] if e.get("event") == "bot"]


def replay_kwargs(bot_event: dict[str, Any]) -> dict[str, Any]:
    """Arguments for ``utter_message`` that send a stored bot message again, exactly."""
    data = bot_event.get("data") or {}
    kwargs: dict[str, Any] = {}
    if bot_event.get("text"):
        kwargs["text"] = bot_event["text"]
    if data.get("buttons"):
        kwargs["buttons"] = data["buttons"]
    if data.get("custom"):
        kwargs["json_message"] = data["custom"]
    return kwargs


def is_question(bot_event: dict[str, Any]) -> bool:
    """Form questions are the responses named utter_ask_*."""
    return str((bot_event.get("metadata") or {}).get("utter_action", "")).startswith("utter_ask_")


def spoken_digits(digits: str) -> str:
    return "".join(_CHINESE_DIGIT.get(ch, ch) for ch in digits)


def read_id_number(id_number: str) -> str:
    """The ID read back in groups: "一一零一零五，一九四九零三一二，零零二一".

    The one place an ID number is shown whole: the read-back before a write.
    """
    return "，".join(spoken_digits(group) for group in idcard.groups(id_number))


def read_application_number(number: str) -> str:
    """ "SB48310275" -> "SB 4831 0275": letters, then the digits in two groups of four."""
    letters, digits = number[:2], number[2:]
    return f"{letters} {digits[:4]} {digits[4:]}".strip()


def read_date(day: dt.date) -> str:
    return f"{day.month}月{day.day}日，星期{_WEEKDAYS[day.weekday()]}"


def read_full_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def read_month(month: str) -> str:
    """ "2025-05" -> "2025年5月"."""
    year, number = month.split("-", 1)
    return f"{year}年{int(number)}月"


def read_yuan(amount: str) -> str:
    """ "4380.50" -> "4380元5角": whole yuan as digits, then 角 and 分 only when not zero."""
    whole, _, fraction = amount.partition(".")
    fraction = (fraction + "00")[:2]
    text = f"{int(whole)}元"
    jiao, fen = int(fraction[0]), int(fraction[1])
    if jiao:
        text += f"{jiao}角"
    if fen:
        text += f"{'零' if not jiao else ''}{fen}分"
    return text


def numbered(options: Sequence[str]) -> str:
    """ "1. 甲\\n2. 乙" for the text of a numbered question."""
    return "\n".join(f"{i}. {option}" for i, option in enumerate(options, 1))


def number_buttons(titles: Iterable[str]) -> list[dict[str, str]]:
    """Buttons "1 甲", "2 乙" whose payload is the number, understood like a spoken choice."""
    return [{"title": f"{i} {title}", "payload": f"第{i}个"} for i, title in enumerate(titles, 1)]


def who(turn: Turn) -> dict[str, str]:
    """Name and spoken ID number for a read-back."""
    number = turn.get("id_number") or ""
    return {
        "name": turn.get("person_name") or "",
        "id_read": read_id_number(number) if number else "",
    }


def channel_of(tracker: Tracker) -> str:
    """kiosk, phone or web: what the gateway put in the message metadata; web otherwise."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            channel = (event.get("metadata") or {}).get("channel")
            if channel in ("kiosk", "phone", "web"):
                return channel
    return "web"

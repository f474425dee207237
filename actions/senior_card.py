"""Senior citizen preferential-treatment card (老年人优待证): age, how to get it, apply.

After identity the exchange tells us whether the person is 60 or over, whether an
application is already being processed, and the mailing address down to the
street (never the house number). Someone younger hears kindly why not yet and
what else we can do. Then one question: picked up at a hall (1) or mailed home (2);
mail needs an address on record, otherwise it is the hall.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rasa_sdk.events import EventType, SlotSet

from actions.dialogue import Turn, parse_choice, plain, read_application_number, who
from actions.exchange import get_client
from actions.flows import GATE, Flow
from actions.forms import ServiceForm

SERVICE = "apply_senior_card"
DELIVERY = "card_delivery"
# The address down to the street as it is read out; "" when none is on record,
# None when the exchange has not been asked yet (before identity).
ADDRESS = "mail_address"
PROXY = "by_proxy"

DELIVERIES = {"hall": "到大厅领取", "mail": "邮寄到家"}
# Words that answer the question "怎么拿".
DELIVERY_WORDS = {
    "hall": ("大厅", "窗口", "自己去", "自己来", "自己拿", "自己取", "去拿", "去取", "去领",
             "现场", "当面"),
    "mail": ("邮寄", "寄", "快递", "送到家", "送上门", "送家里", "走不动", "出不了门", "去不了",
             "来不了", "腿脚不"),
}  # fmt: skip
# In the first sentence only words that clearly mean how to get the card count:
# "去大厅办老年证" is about where to apply, not how to receive.
START_WORDS = {
    "hall": ("自己去拿", "自己去取", "自己来拿", "自己来取", "自己去领", "到大厅领", "去大厅领",
             "到大厅拿", "去大厅拿"),
    "mail": ("邮寄", "寄", "快递", "送到家", "送上门"),
}  # fmt: skip
# "不用寄", "别寄了", "没法去大厅", "去不了大厅": a word right after one of these does
# not count ("不对，寄到家里" still means mail).
_NEGATION = re.compile(r"(?:不用|不要|不必|不想|不能|没法|没办法|不了|别|甭|莫|不)[去来到上]?$")
_ELDER = (
    "妈|爸|娘|爹|母亲|父亲|老妈|老爸|老伴|老头|老太|爱人|爷爷|奶奶|姥姥|姥爷|外公|外婆|公公|婆婆"
    "|岳父|岳母|丈母娘|老人家|老人"
)
# "帮我妈办", "给俺爹办", "我妈的老年证", "我爸想办": the card is for somebody else.
_FOR_ELDER = re.compile(
    rf"(?:帮|替|给|为)(?:我|俺|咱)?家?的?(?:{_ELDER})|(?:我|俺)(?:{_ELDER})(?:的|要|想|办|该)"
)


def delivery_in(text: str, words: dict[str, tuple[str, ...]] = DELIVERY_WORDS) -> str | None:
    """hall or mail in plain words; None when neither (or both) is meant."""
    said = plain(text)
    found = set()
    for option, option_words in words.items():
        for word in option_words:
            start = said.find(word)
            while start != -1:
                before, after = said[max(0, start - 4) : start], said[start + len(word) :]
                if not _NEGATION.search(before) and not after.startswith("不"):
                    found.add(option)
                start = said.find(word, start + 1)
    return found.pop() if len(found) == 1 else None


def for_an_elder(text: str) -> bool:
    """The speaker asks for a parent or spouse ("帮我妈办个老年证")."""
    return bool(_FOR_ELDER.search(plain(text)))


def spoken_delivery(turn: Turn) -> str:
    if turn.get(DELIVERY) == "mail":
        return f"办好后寄到{turn.get(ADDRESS) or '登记的地址'}"
    return "办好后到办事大厅领取"


class SeniorCardFlow(Flow):
    service = SERVICE
    form = "senior_card_form"
    answers = (DELIVERY, PROXY)
    fresh = (DELIVERY, ADDRESS, PROXY)

    async def start(self, turn: Turn) -> list[EventType]:
        # The identity questions then ask for the elder's name and number.
        if for_an_elder(turn.text):
            turn.slots[PROXY] = True
            return [SlotSet(PROXY, True)]
        return []

    async def prepare(self, turn: Turn) -> list[EventType]:
        record = await get_client().senior_card(turn.get("person_ref"))
        if not record.get("eligible"):
            turn.say("utter_senior_card_too_young", min_age=record.get("min_age", 60))
            turn.say("utter_senior_card_other_help")
            turn.say("utter_anything_else")
            return [SlotSet(GATE, "closed"), *self._cleared(turn)]
        if number := record.get("pending_application_no"):
            turn.say(
                "utter_senior_card_pending",
                application_number=read_application_number(number),
                status=record.get("pending_status_text") or "",
            )
            turn.say("utter_anything_else")
            return [SlotSet(GATE, "closed"), *self._cleared(turn)]
        address = ""
        if record.get("address_on_record"):
            address = (record.get("address_masked") or "").rstrip("*") or "登记的地址"
        turn.slots[ADDRESS] = address
        events: list[EventType] = [SlotSet(ADDRESS, address)]
        if delivery := turn.get(DELIVERY):
            # Said in the first sentence, before we knew the address: check it now.
            checked = await ValidateSeniorCardForm().check_card_delivery(delivery, turn)
            turn.slots.update(checked)
            events += [SlotSet(slot, value) for slot, value in checked.items()]
        return events

    async def submit(self, turn: Turn) -> list[EventType]:
        key = self.write_key(turn, SERVICE)
        application = await get_client().apply_senior_card(
            turn.get("person_ref"), turn.get(DELIVERY), idempotency_key=key
        )
        return self.filed(turn, application, "utter_senior_card_applied")

    def _cleared(self, turn: Turn) -> list[EventType]:
        """Nothing to file: forget this service's answers (a later service starts clean)."""
        turn.slots.update(dict.fromkeys(self.answers))
        return [SlotSet(slot, None) for slot in self.answers]


class ValidateSeniorCardForm(ServiceForm):
    form = "senior_card_form"
    questions = (DELIVERY, "confirmation")
    trigger_intents = frozenset({SERVICE})
    start_readers = (DELIVERY,)
    changeable: ClassVar[dict[str, str]] = {DELIVERY: "领取方式"}

    def field_words(self, slot: str) -> tuple[str, ...]:
        return ("怎么拿", "领取", "邮寄", "地址", "大厅")

    def extract(self, turn: Turn) -> dict[str, Any]:
        answers = super().extract(turn)
        if turn.requested == "confirmation" and not self.is_starting(turn.tracker):
            # "不对，寄到家里" at the read-back: a correction, then the read-back again.
            if answers.get("confirmation") is not None or turn.intent in ("inform", "deny"):
                if value := delivery_in(turn.text):
                    answers.setdefault(DELIVERY, value)
        return answers

    def read_card_delivery(self, turn: Turn) -> str | None:
        index = parse_choice(turn.text, len(DELIVERIES))
        if index is not None:
            return list(DELIVERIES)[index]
        words = START_WORDS if self.is_starting(turn.tracker) else DELIVERY_WORDS
        return delivery_in(turn.text, words)

    async def check_card_delivery(self, value: Any, turn: Turn) -> dict[str, Any]:
        if value not in DELIVERIES:
            return {DELIVERY: None}
        address = turn.get(ADDRESS)
        if value == "hall" or address is None:  # None: not read yet, prepare checks it again
            return {DELIVERY: value}
        if not address:
            turn.say("utter_senior_card_no_address")
            return {DELIVERY: "hall"}
        turn.say("utter_senior_card_mail_to", address=address)
        return {DELIVERY: "mail"}

    def spoken_value(self, slot: str, value: Any) -> str:
        return DELIVERIES.get(value, str(value))

    def readback(self, turn: Turn) -> dict[str, Any]:
        return {**who(turn), "delivery": spoken_delivery(turn)}

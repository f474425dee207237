"""Medical treatment elsewhere (异地就医备案): destination and reason, then the filing."""

from __future__ import annotations

from typing import Any, ClassVar

from rasa_sdk.events import EventType, SlotSet

from actions.dialogue import Turn, numbered_or_keyword_choice, who
from actions.exchange import get_client
from actions.flows import Flow
from actions.forms import ServiceForm, SlotMap
from actions.places import Place, places_in
from actions.questions import AskCity
from actions.social_insurance import place_words
from exchange.core.codes import Purpose

SERVICE = "medical_insurance_filing"

REASONS = {
    "long_term_residence": "长期在外地住",
    "resettlement": "退休后去外地养老",
    "temporary": "临时去外地看病",
}
REASON_WORDS = {
    "resettlement": ("安置", "养老", "退休", "投靠", "跟子女", "跟儿子", "跟女儿", "带孙"),
    "long_term_residence": ("长期", "常住", "居住", "住在", "定居", "工作", "打工"),
    "temporary": ("临时", "出差", "旅游", "看病", "急诊", "转诊", "住院", "探亲", "短期"),
}


class MedicalFilingFlow(Flow):
    service = SERVICE
    form = "medical_filing_form"
    answers = ("destination_city", "destination_province", "filing_reason")

    async def prepare(self, turn: Turn) -> list[EventType]:
        record = await get_client().social_insurance(
            turn.get("person_ref"), purpose=Purpose.MEDICAL_INSURANCE_FILING
        )
        province, city = record["insured_province"], record["insured_city"]
        turn.slots.update(record_province=province, record_city=city)
        turn.say("utter_medical_record", place=place_words(province, city))
        return [SlotSet("record_province", province), SlotSet("record_city", city)]

    async def submit(self, turn: Turn) -> list[EventType]:
        application = await get_client().file_medical_insurance(
            turn.get("person_ref"),
            turn.get("record_province"),
            turn.get("destination_province"),
            turn.get("destination_city"),
            turn.get("filing_reason"),
            idempotency_key=self.write_key(turn, SERVICE),
        )
        return self.filed(turn, application, "utter_medical_filed")


class ValidateMedicalFilingForm(ServiceForm):
    form = "medical_filing_form"
    questions = ("destination_city", "destination_province", "filing_reason", "confirmation")
    trigger_intents = frozenset({SERVICE})
    start_readers = ("filing_reason",)
    changeable: ClassVar[dict[str, str]] = {
        "destination_city": "去的地方",
        "filing_reason": "备案原因",
    }
    dependents: ClassVar[SlotMap] = {"destination_city": ("destination_province",)}

    def field_words(self, slot: str) -> tuple[str, ...]:
        return {"destination_city": ("地方", "城市", "哪里"), "filing_reason": ("原因",)}[slot]

    def extract(self, turn: Turn) -> dict[str, Any]:
        answers = super().extract(turn)
        if not answers and turn.intent not in ("inform", "deny", "affirm", "nlu_fallback", None,
                                                *self.trigger_intents):  # fmt: skip
            return answers
        places = places_in(turn)
        if places:
            answers["destination_city"] = places[-1]
        return answers

    def read_filing_reason(self, turn: Turn) -> str | None:
        return numbered_or_keyword_choice(turn.text, REASONS, REASON_WORDS)

    async def check_destination_city(self, value: Any, turn: Turn) -> dict[str, Any]:
        place: Place = value
        if place.city and place.city == turn.get("record_city"):
            return {
                **self.reject("destination_city", turn, "utter_medical_same_place"),
                "destination_province": None,
            }
        return {"destination_province": place.province, "destination_city": place.city}

    async def check_filing_reason(self, value: Any, turn: Turn) -> dict[str, Any]:
        return {"filing_reason": value if value in REASONS else None}

    def spoken_value(self, slot: str, value: Any) -> str:
        if slot == "filing_reason":
            return REASONS.get(value, str(value))
        return value.name if isinstance(value, Place) else str(value)

    def readback(self, turn: Turn) -> dict[str, Any]:
        return {
            **who(turn),
            "place": place_words(turn.get("destination_province"), turn.get("destination_city")),
            "reason": REASONS.get(turn.get("filing_reason"), ""),
        }


class ActionAskDestinationCity(AskCity):
    slot = "destination_city"

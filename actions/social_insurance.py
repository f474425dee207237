"""Move social insurance to another province or city (跨省转移接续).

Where the insurance is now comes from the record and is only confirmed (the
exchange files a transfer from the insured place only); where it goes is asked.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import Turn, who, yes_or_no
from actions.exchange import get_client
from actions.flows import Flow
from actions.forms import CONFIRMATION, ServiceForm, SlotMap
from actions.places import Place, direction, place_of, places_in
from actions.questions import AskCity

SERVICE = "transfer_social_insurance"
FROM = ("from_city", "from_province")
TO = ("to_city", "to_province")


def record_place(turn: Turn) -> Place | None:
    return place_of(turn.get("record_province"), turn.get("record_city"))


def place_words(province: str | None, city: str | None) -> str:
    """ "四川省成都市"; a municipality once ("北京市")."""
    if city and (city == province or not province):
        return city
    return f"{province or ''}{city or ''}"


def place_result(prefix: str, place: Place) -> dict[str, Any]:
    """Slots for a place answer; a province alone leaves the city to ask."""
    return {f"{prefix}_province": place.province, f"{prefix}_city": place.city}


class TransferFlow(Flow):
    service = SERVICE
    form = "transfer_form"
    answers = ("from_city", "from_province", "to_city", "to_province")

    async def prepare(self, turn: Turn) -> list[EventType]:
        record = await get_client().social_insurance(turn.get("person_ref"))
        province, city = record["insured_province"], record["insured_city"]
        turn.slots.update(record_province=province, record_city=city)
        events: list[EventType] = [
            SlotSet("record_province", province),
            SlotSet("record_city", city),
        ]
        if turn.get("to_city") == city:
            turn.say("utter_transfer_same_place")
            events += [SlotSet("to_city", None), SlotSet("to_province", None)]
        return events

    async def submit(self, turn: Turn) -> list[EventType]:
        application = await get_client().create_transfer(
            turn.get("person_ref"),
            turn.get("from_province"),
            turn.get("from_city"),
            turn.get("to_province"),
            turn.get("to_city"),
            idempotency_key=self.write_key(turn, SERVICE),
        )
        return self.filed(turn, application, "utter_transfer_done")


class ValidateTransferForm(ServiceForm):
    form = "transfer_form"
    questions = ("from_city", "from_province", "to_city", "to_province", "confirmation")
    trigger_intents = frozenset({SERVICE})
    changeable: ClassVar[dict[str, str]] = {"from_city": "转出的地方", "to_city": "转到的地方"}
    dependents: ClassVar[SlotMap] = {"from_city": ("from_province",), "to_city": ("to_province",)}

    def field_words(self, slot: str) -> tuple[str, ...]:
        return {"from_city": ("转出", "原来", "从哪"), "to_city": ("转到", "转入", "去哪", "要去")}[
            slot
        ]

    def extract(self, turn: Turn) -> dict[str, Any]:
        answers = super().extract(turn)
        if not answers and turn.intent not in ("inform", "deny", "affirm", "nlu_fallback", None,
                                                *self.trigger_intents):  # fmt: skip
            return answers
        requested = turn.requested
        places = places_in(turn)
        sides: list[tuple[str, Place]] = []
        for index, place in enumerate(places):
            side = direction(turn.text, place)
            if side is None and len(places) == 2:
                side = "from" if index == 0 else "to"
            if side is None:
                if requested in FROM:
                    side = "from"
                elif requested in TO:
                    side = "to"
                else:  # "不对，是成都" at the read-back: the place said last
                    side = (
                        "to"
                        if self._latest_set(turn.tracker, ["from_city", "to_city"]) == "to_city"
                        else "from"
                    )
            sides.append((side, place))
        for side, place in sides:
            answers[f"{side}_city"] = place
        answers = {k: v for k, v in answers.items() if k not in ("from_province", "to_province")}
        if requested == "from_city" and "from_city" not in answers and record_place(turn):
            if yes_or_no(turn.intent, turn.text) is True:
                answers["from_city"] = record_place(turn)
        return answers

    async def apply(self, answers: dict[str, Any], turn: Turn) -> list[EventType]:
        events = await super().apply(answers, turn)
        start = turn.get("from_city") or turn.get("record_city")
        if start and turn.get("to_city") == start:
            # "转到成都" said before we knew the insurance is already in 成都.
            turn.say("utter_transfer_same_place")
            events += self._set(turn, {"to_city": None, "to_province": None, CONFIRMATION: None})
        return events

    async def check_from_city(self, value: Any, turn: Turn) -> dict[str, Any]:
        place: Place = value
        record = record_place(turn)
        if record and (place.province, place.city or record.city) != (record.province, record.city):
            # The exchange can only move insurance from where it is now.
            return {
                **self.reject(
                    "from_city",
                    turn,
                    "utter_transfer_from_is_record",
                    place=place_words(record.province, record.city),
                ),
                "from_province": None,
            }
        return place_result("from", place if place.city else (record or place))

    async def check_to_city(self, value: Any, turn: Turn) -> dict[str, Any]:
        place: Place = value
        if place.city and place.city == turn.get("from_city"):
            return {
                **self.reject("to_city", turn, "utter_transfer_same_place"),
                "to_province": None,
            }
        return place_result("to", place)

    def spoken_value(self, slot: str, value: Any) -> str:
        return value.name if isinstance(value, Place) else str(value)

    def readback(self, turn: Turn) -> dict[str, Any]:
        return {
            **who(turn),
            "from_place": place_words(turn.get("from_province"), turn.get("from_city")),
            "to_place": place_words(turn.get("to_province"), turn.get("to_city")),
        }


class ActionAskFromCity(Action):
    """Where the insurance is now: the record's place to confirm, else the question."""

    def name(self) -> str:
        return "action_ask_from_city"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        province, city = tracker.get_slot("record_province"), tracker.get_slot("record_city")
        if city:
            dispatcher.utter_message(
                response="utter_ask_from_city_record", place=place_words(province, city)
            )
        else:
            dispatcher.utter_message(response="utter_ask_from_city_open")
        return []


class ActionAskToCity(AskCity):
    slot = "to_city"

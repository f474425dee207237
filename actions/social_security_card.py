"""Social security card: a new card, reporting a lost one, or a replacement.

A lost card is reported first and on its own: it is confirmed and filed before
anything else, so it stands even if the caller cannot finish a replacement.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import (
    Turn,
    numbered_or_keyword_choice,
    read_application_number,
    who,
)
from actions.exchange import get_client
from actions.flows import OFFER, Flow
from actions.forms import ServiceForm

SERVICE = "social_security_card"

REQUESTS = {"new": "申领新卡", "report_loss": "挂失", "replace": "补办新卡"}
REQUEST_WORDS = {
    "report_loss": ("丢", "掉了", "找不到", "被偷", "挂失", "不见了", "冻结", "遗失"),
    "replace": ("补", "换", "坏", "重新办", "消磁", "读不出", "刷不了"),
    "new": ("新办", "第一次", "没有卡", "申领", "办一张", "新卡", "申请"),
}


class CardFlow(Flow):
    service = SERVICE
    form = "social_security_card_form"
    answers = ("card_request_type",)

    async def prepare(self, turn: Turn) -> list[EventType]:
        card = await get_client().social_security_card(turn.get("person_ref"))
        status = card.get("status") if card.get("has_card") else "none"
        turn.slots["card_status"] = status
        events: list[EventType] = [SlotSet("card_status", status)]
        if request := turn.get("card_request_type"):
            # Said in the first sentence, before we knew the card: check it now.
            checked = await ValidateSocialSecurityCardForm().check_card_request_type(request, turn)
            events += [SlotSet(slot, value) for slot, value in checked.items()]
        return events

    async def submit(self, turn: Turn) -> list[EventType]:
        request = turn.get("card_request_type")
        application = await get_client().request_social_security_card(
            turn.get("person_ref"), request, idempotency_key=self.write_key(turn, SERVICE)
        )
        if request == "report_loss":
            number = read_application_number(application["application_no"])
            turn.say("utter_card_loss_reported", application_number=number)
            turn.say("utter_offer_replacement")
            events = self.written(turn, application)
            return [*events, SlotSet("card_status", "lost"), SlotSet(OFFER, "replace_card")]
        events = self.filed(turn, application, "utter_card_requested")
        return [*events, SlotSet("card_status", "replacing")]


class ValidateSocialSecurityCardForm(ServiceForm):
    form = "social_security_card_form"
    questions = ("card_request_type", "confirmation")
    trigger_intents = frozenset({SERVICE})
    changeable: ClassVar[dict[str, str]] = {"card_request_type": "要办的事"}

    def read_card_request_type(self, turn: Turn) -> str | None:
        return numbered_or_keyword_choice(turn.text, REQUESTS, REQUEST_WORDS)

    def extract(self, turn: Turn) -> dict[str, Any]:
        answers = super().extract(turn)
        if self.is_starting(turn.tracker) and "card_request_type" not in answers:
            if value := self.read_card_request_type(turn):
                answers["card_request_type"] = value
        return answers

    async def check_card_request_type(self, value: Any, turn: Turn) -> dict[str, Any]:
        status = turn.get("card_status")
        if value == "replace" and status == "active":
            # The old card must be stopped first, so nobody else can use it.
            turn.say("utter_card_loss_first")
            return {"card_request_type": "report_loss"}
        if value == "report_loss" and status in ("lost", "replacing"):
            turn.say("utter_card_already_lost")
            return {"card_request_type": "replace" if status == "lost" else None}
        if value == "new" and status not in (None, "none"):
            turn.say("utter_card_already_have")
            return {"card_request_type": None}
        if value in ("replace", "report_loss") and status == "none":
            turn.say("utter_card_none_yet")
            return {"card_request_type": "new"}
        return {"card_request_type": value}

    def spoken_value(self, slot: str, value: Any) -> str:
        return REQUESTS.get(value, str(value))

    def readback(self, turn: Turn) -> dict[str, Any]:
        return {**who(turn), "request": REQUESTS.get(turn.get("card_request_type"), "")}


class ActionReplaceCard(Action):
    """ "好" after the loss report: go on with the replacement, confirmed on its own."""

    def name(self) -> str:
        return "action_replace_card"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [
            SlotSet(OFFER, None),
            SlotSet("card_request_type", "replace"),
            SlotSet("confirmation", None),
        ]

"""Find a service hall: city (and what to do there) -> address, hours, accessibility.

No identity is needed: halls are public information.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import (
    Turn,
    entity_values,
    number_buttons,
    numbered,
    numbered_or_keyword_choice,
)
from actions.exchange import get_client
from actions.flows import SERVICE as CURRENT_SERVICE
from actions.flows import Flow
from actions.forms import CityForm, SlotMap
from actions.settings import get_settings

SERVICE = "find_service_hall"
ANY = "any"
MAX_HALLS = 3

# What people can do at a hall, in the order offered; "any" = every hall.
HALL_SERVICES = {
    "renew_id_card": "办身份证",
    "transfer_social_insurance": "社保转移",
    "pension_certification": "养老金认证",
    "medical_insurance_filing": "异地就医备案",
    "social_security_card": "社保卡",
    ANY: "都可以",
}
SERVICE_WORDS = {
    "renew_id_card": ("身份证",),
    "transfer_social_insurance": ("转移", "转社保"),
    "pension_certification": ("认证",),
    "medical_insurance_filing": ("备案", "异地就医", "看病"),
    "social_security_card": ("社保卡", "医保卡"),
    ANY: ("都可以", "都行", "随便", "不知道", "无所谓", "哪个都"),
}


class HallFlow(Flow):
    service = SERVICE
    form = "service_hall_form"
    needs_identity = False

    async def start(self, turn: Turn) -> list[EventType]:
        # Coming from another service (e.g. identity could not be checked): halls for it.
        previous = turn.get(CURRENT_SERVICE)
        if previous in HALL_SERVICES and not turn.get("service"):
            turn.slots["service"] = previous
            return [SlotSet("service", previous)]
        return []

    async def submit(self, turn: Turn) -> list[EventType]:
        city, service = turn.get("city"), turn.get("service")
        halls = await get_client().outlets(
            city=city, service=None if service in (None, ANY) else service
        )
        if not halls:
            turn.say("utter_no_halls", city=city, hotline=get_settings().service_hotline)
        else:
            lines = "\n".join(
                f"{i}. {h['name']}。地址：{h['address']}。时间：{h['opening_hours']}。"
                f"{h.get('accessibility', '')}。电话：{h.get('phone', '')}"
                for i, h in enumerate(halls[:MAX_HALLS], 1)
            )
            turn.say("utter_halls", city=city, count=min(len(halls), MAX_HALLS), halls=lines)
        turn.say("utter_anything_else")
        return [SlotSet("service", None)]


class ValidateServiceHallForm(CityForm):
    form = "service_hall_form"
    questions = ("city", "service")
    trigger_intents = frozenset({SERVICE})
    entity_slots: ClassVar[SlotMap] = {
        "city": ("city",),
        "province": ("city",),
        "service": ("service",),
    }

    async def on_start(self, turn: Turn) -> list[EventType]:
        return []

    def read_service(self, turn: Turn) -> str | None:
        for value in entity_values(turn.tracker, "service"):
            if value in HALL_SERVICES:
                return value
        return numbered_or_keyword_choice(turn.text, HALL_SERVICES, SERVICE_WORDS)

    async def check_service(self, value: Any, turn: Turn) -> dict[str, Any]:
        return {"service": value if value in HALL_SERVICES else ANY}


class ActionAskService(Action):
    """What the person wants to do at the hall, as numbered choices."""

    def name(self) -> str:
        return "action_ask_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        labels = list(HALL_SERVICES.values())
        dispatcher.utter_message(
            response="utter_ask_service", options=numbered(labels), buttons=number_buttons(labels)
        )
        return []

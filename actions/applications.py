"""How far an application has got: by its number, or all of a verified person's."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rasa_sdk.events import EventType, SlotSet

from actions.dialogue import Turn, entity_values, plain, read_application_number
from actions.exchange import NotFound, get_client
from actions.flows import GATE, Flow
from actions.forms import ServiceForm, SlotMap
from nluext.digits import extract_application_number

SERVICE = "check_application_status"
BY_IDENTITY = "status_by_identity"
MAX_LISTED = 3

SERVICE_WORDS = {
    "renew_id_card": "身份证换领",
    "transfer_social_insurance": "社保转移",
    "pension_certification": "养老金认证",
    "medical_insurance_filing": "异地就医备案",
    "social_security_card": "社保卡",
    "apply_senior_card": "老年人优待证",
}
_FORGOT = re.compile(r"不记得|忘了|不知道|记不住|没有编号|找不到|没带|查不到|记不清")


class StatusFlow(Flow):
    service = SERVICE
    form = "application_status_form"
    needs_identity = False
    fresh = ("application_number", BY_IDENTITY)

    async def submit(self, turn: Turn) -> list[EventType]:
        number = turn.get("application_number")
        client = get_client()
        if number:
            try:
                application = await client.application(number)
            except NotFound:
                turn.say(
                    "utter_application_not_found",
                    application_number=read_application_number(number),
                )
                return [SlotSet("application_number", None)]
            turn.say("utter_application_status", **_spoken(application))
            turn.say("utter_anything_else")
            return [SlotSet(BY_IDENTITY, None)]
        if not turn.get("person_ref"):
            return [SlotSet(GATE, "need_identity")]
        applications = await client.applications(turn.get("person_ref"))
        if not applications:
            turn.say("utter_no_applications")
        else:
            lines = "\n".join(
                "{service}，编号{application_number}，{status}。{next_step}".format(**_spoken(a))
                for a in applications[:MAX_LISTED]
            )
            turn.say("utter_applications_list", count=len(applications), applications=lines)
        turn.say("utter_anything_else")
        return [SlotSet(BY_IDENTITY, None), SlotSet(GATE, None)]


def _spoken(application: dict[str, Any]) -> dict[str, str]:
    return {
        "application_number": read_application_number(application["application_no"]),
        "service": SERVICE_WORDS.get(application.get("service", ""), "申请"),
        "status": application.get("status_text", ""),
        "next_step": application.get("next_step", ""),
    }


class ValidateApplicationStatusForm(ServiceForm):
    form = "application_status_form"
    questions = ("application_number",)
    trigger_intents = frozenset({SERVICE})
    entity_slots: ClassVar[SlotMap] = {"application_number": ("application_number",)}

    async def on_start(self, turn: Turn) -> list[EventType]:
        return []

    def required(self, turn: Turn) -> list[str]:
        if turn.get("person_ref") or turn.get(BY_IDENTITY):
            return []
        return ["application_number"]

    def extract(self, turn: Turn) -> dict[str, Any]:
        answers = super().extract(turn)
        if _FORGOT.search(plain(turn.text)) or (
            turn.intent == "deny" and "application_number" not in answers
        ):
            answers[BY_IDENTITY] = True
        return answers

    def read_application_number(self, turn: Turn) -> str | None:
        found = extract_application_number(turn.text)
        if found:
            return found
        values = entity_values(turn.tracker, "application_number")
        return values[0].upper() if values else None

    async def check_application_number(self, value: Any, turn: Turn) -> dict[str, Any]:
        number = str(value).upper().replace(" ", "")
        if not re.fullmatch(r"[A-Z]{2}[0-9]{8}", number):
            return self.reject("application_number", turn, "utter_application_number_unclear")
        return {"application_number": number, BY_IDENTITY: None}

    async def check_status_by_identity(self, value: Any, turn: Turn) -> dict[str, Any]:
        return {BY_IDENTITY: True}
